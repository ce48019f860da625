"""The store: numbered runs in ``results/<experiment>/``, written atomically, never shared.

Each run saves into ``results/<experiment>/`` as the next number of the
seqfile protocol: ``kmeans.7.pkl`` (the payload) and ``kmeans.7.json`` (its
run record), one number per run whatever the format. Many processes on many
machines may save into one folder at once, also over NFS:

- The payload is first written to a temporary file in ``results/<experiment>/.tmp/``,
  so an object that cannot be stored fails before any number is used.
- The number is then reserved as seqfile does, by creating ``<experiment>.N.json``
  with ``O_CREAT | O_EXCL``; on a collision the next number is tried without
  listing the folder again (a stale NFS listing cannot make two runs share one).
  Where to start comes from a small hint file, so a save does not list a folder
  of 10,000 runs; the folder is listed only when the hint is missing or far
  behind. Gaps are ignored, and a file another tool (seqfile itself) made with
  the same number is never overwritten.
- The payload is renamed into place, and the record, written to a temporary
  file and renamed over the reservation, comes last. Until then the record
  says ``"status": "running"``: only a run whose record says ``"complete"`` is
  ever loaded or tabulated.

Temporary files of saves that died (killed mid-write) are removed by the next
save: at once when their process ran on this machine and is gone, after
:data:`TEMP_MAX_AGE` seconds when it ran elsewhere. Archived runs move to
``results/.archive/<experiment>/`` and keep their numbers (never reused).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import re
import secrets
import socket
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import paths, provenance
from ..errors import ProjectError
from . import codecs
from .codecs import FORMATS


class ResultsError(ProjectError):
    """A result that cannot be saved or loaded; the message says which and why."""


class UnknownExperiment(ResultsError):
    """No folder ``results/<experiment>/`` exists."""


class PartialSave(UserWarning):
    """Some names of a result could not be stored in its format; the others were saved."""


RECORD_SUFFIX = ".json"
TEMP_FOLDER = ".tmp"
ARCHIVE_FOLDER = ".archive"
# A temporary file of a save on another machine is taken for dead after this many seconds
# without a write (a file of this machine is removed as soon as its process is gone).
TEMP_MAX_AGE = 24 * 3600
# The hint is rewritten at every HINT_EVERY-th number only (a rename costs as much as the
# rest of a save in a folder of 10,000 runs); a hint that far behind costs as many failed
# exclusive creates, a few microseconds each.
HINT_EVERY = 8
# After this many collisions in a row the folder is listed once more, only ever
# to move forward: a listing can be stale, an O_EXCL create cannot.
RELIST_AFTER = 16
MAX_SCALAR_TEXT = 200
NAME = paths.PLAIN_NAME
# Longest name: its files add ".<number>.data.json", and 255 bytes is the usual limit.
MAX_NAME_BYTES = 200


# ---- names and folders ---------------------------------------------------------------------


def check_name(name: str, what: str = "experiment") -> str:
    """``name`` if it can name one folder or file on every system; one clear line otherwise."""
    if not isinstance(name, str) or not NAME.fullmatch(name) or name.endswith("."):
        raise ResultsError(
            f"{what} name {name!r} must be one folder name (letters, digits, '_', '-', '.', "
            "'+'), not a path: e.g. 'kmeans'"
        )
    if paths.WINDOWS_RESERVED.fullmatch(name):
        raise ResultsError(
            f"{what} name {name!r} is reserved on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9, "
            "with any extension), so collaborators there could not open it: choose another name"
        )
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ResultsError(
            f"{what} name of {len(name)} characters ({name[:20]}...) is too long: at most "
            f"{MAX_NAME_BYTES}, as its files add a number and a suffix to it"
        )
    return name


def folder_of(experiment: str) -> Path:
    """The folder ``results/<experiment>/`` (not created); refuses paths, ``..`` and bad names."""
    return paths.inside(paths.RESULTS_DIR, check_name(experiment, "experiment"))


def archive_folder_of(experiment: str) -> Path:
    """``results/.archive/<experiment>/``, where archived runs go (not created)."""
    return paths.RESULTS_DIR / ARCHIVE_FOLDER / check_name(experiment, "experiment")


def experiments() -> list[str]:
    """The experiments that have a folder in ``results/``, sorted."""
    base = paths.RESULTS_DIR
    if not base.is_dir():
        return []
    return sorted(p.name for p in base.iterdir() if p.is_dir() and NAME.fullmatch(p.name))


def existing_folder(experiment: str) -> Path:
    """``results/<experiment>/``; :class:`UnknownExperiment` naming the known ones if missing."""
    folder = folder_of(experiment)
    if not folder.is_dir():
        known = ", ".join(experiments()) or "none yet"
        raise UnknownExperiment(
            f"no experiment {experiment!r}: {folder} does not exist (known experiments: {known})"
        )
    return folder


def _number_pattern(experiment: str) -> re.Pattern:
    # Anchored at both ends (seqfile 0.2.0 is not: with "ba.7.txt" beside them, its
    # "a." files would continue at 8). Any suffix counts, so a number taken by
    # seqfile with a suffix of its own is never reused.
    return re.compile(rf"{re.escape(experiment)}\.([0-9]+)(?:\..*)?", re.DOTALL)


def list_numbers(folder: Path, experiment: str) -> dict[int, list[str]]:
    """Every number used in ``folder`` -> the names of its files (none if no folder)."""
    pattern = _number_pattern(experiment)
    found: dict[int, list[str]] = {}
    try:
        entries = os.scandir(folder)
    except FileNotFoundError:
        return found
    with entries:
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if match:
                found.setdefault(int(match.group(1)), []).append(entry.name)
    return found


# ---- temporary files -----------------------------------------------------------------------


def _temp_path(folder: Path, suffix: str = "") -> Path:
    # pid~host~token: who writes it, so that a later save can tell a dead writer's leftover.
    temps = folder / TEMP_FOLDER
    temps.mkdir(exist_ok=True)
    return temps / f"{os.getpid()}~{socket.gethostname()}~{secrets.token_hex(4)}{suffix}"


def temp_writer(path: Path) -> tuple[int | None, str | None]:
    """The (pid, host) that writes the temporary file ``path``."""
    pid, _, rest = path.name.partition("~")
    host = rest.partition("~")[0]
    return (int(pid) if pid.isdigit() else None), (host or None)


def alive(host: str | None, pid: int | None) -> bool | None:
    """Whether ``pid`` still runs; None when it ran on another machine."""
    if host != socket.gethostname() or not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError as error:
        return error.errno == errno.EPERM
    return True


def temp_files(folder: Path) -> list[Path]:
    """The temporary files in ``folder/.tmp/``, by name."""
    try:
        return sorted(p for p in (folder / TEMP_FOLDER).iterdir() if p.is_file())
    except FileNotFoundError:
        return []


def dead_temp_files(folder: Path, max_age: float = TEMP_MAX_AGE) -> list[Path]:
    """Temporary files whose save died: its process is gone (this machine) or, for a save on
    another machine, nothing was written to it for ``max_age`` seconds."""
    dead = []
    now = time.time()
    for path in temp_files(folder):
        state = alive(*reversed(temp_writer(path)))
        try:
            stale = now - path.stat().st_mtime > max_age
        except FileNotFoundError:
            continue  # renamed into place meanwhile
        if state is False or (state is None and stale):
            dead.append(path)
    return dead


def remove_dead_temp_files(folder: Path, max_age: float = TEMP_MAX_AGE) -> list[Path]:
    """Remove :func:`dead_temp_files` of ``folder``; return those removed."""
    removed = []
    for path in dead_temp_files(folder, max_age):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def write_json_atomically(path: Path, record: dict) -> None:
    """Write ``record`` as ``path``: whole or not at all (a reader never sees half)."""
    temp = _temp_path(path.parent, ".json")
    temp.write_text(json.dumps(record, indent=1))
    os.replace(temp, path)


def write_temp(folder: Path, name: str, data: Any, format: str, strict: bool = False):
    """Write ``data`` to a temporary file in ``folder/.tmp/``: ``(path, left_out)``.

    ``left_out`` maps the names of a dict ``data`` that ``format`` cannot hold to why;
    the others are written, unless ``strict``. Nothing is left behind on failure.
    """
    try:
        return _write_temp_file(folder, data, format), {}
    except Exception as error:
        whole = error
    if strict or not isinstance(data, Mapping) or format == "parquet":
        raise _cannot_save(name, format, whole) from whole
    left_out = codecs.problems(data, format)
    kept = {key: value for key, value in data.items() if str(key) not in left_out}
    if not left_out:
        raise _cannot_save(name, format, whole) from whole
    if not kept:
        reasons = "; ".join(f"{key!r}: {why}" for key, why in left_out.items())
        raise ResultsError(
            f"cannot save {name!r} as {format}: {reasons} (nothing was written; convert the data "
            "or choose another format)"
        )
    try:
        return _write_temp_file(folder, kept, format), left_out
    except Exception as error:
        raise _cannot_save(name, format, error) from error


def _write_temp_file(folder: Path, data: Any, format: str) -> Path:
    temp = _temp_path(folder, FORMATS[format])
    try:
        with open(temp, "xb") as handle:
            codecs.write(handle, data, format)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _cannot_save(name: str, format: str, error: BaseException) -> ResultsError:
    if isinstance(error, codecs.CodecError) and str(error).startswith("format "):
        return ResultsError(str(error))
    return ResultsError(
        f"cannot save {name!r} as {format}: {codecs.reason(error)} "
        "(nothing was written; convert the data or choose another format)"
    )


# ---- numbering: the seqfile protocol -------------------------------------------------------


def _hint_path(folder: Path, experiment: str) -> Path:
    return folder / f".{experiment}.last"


def read_hint(folder: Path, experiment: str) -> int | None:
    """The last number saved, as the hint file says (None if missing or unreadable)."""
    try:
        return int(_hint_path(folder, experiment).read_text())
    except (OSError, ValueError):
        return None


def write_hint(folder: Path, experiment: str, number: int) -> None:
    """Move the hint forward to ``number`` (best effort: a lost hint costs a few collisions)."""
    if number <= (read_hint(folder, experiment) or -1):
        return
    with contextlib.suppress(OSError):
        temp = _temp_path(folder, ".last")
        temp.write_text(str(number))
        os.replace(temp, _hint_path(folder, experiment))


def _first_candidate(folder: Path, experiment: str) -> int:
    hint = read_hint(folder, experiment)
    if hint is not None:
        return hint + 1
    # Without a hint: after every number in use, archived ones included (never reused).
    used = [
        *list_numbers(folder, experiment),
        *list_numbers(archive_folder_of(experiment), experiment),
    ]
    return max(used, default=-1) + 1


def _create_exclusive(path: Path, content: bytes = b"") -> bool:
    """Create ``path`` if no file has that name (atomic, also on NFS v3+); False if one has."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        return False
    try:
        if content:
            os.write(fd, content)
    finally:
        os.close(fd)
    return True


def _taken_by_another_tool(folder: Path, experiment: str, number: int) -> bool:
    """A payload with this number that no record reserved (seqfile made it, say)."""
    return any((folder / f"{experiment}.{number}{suffix}").exists() for suffix in FORMATS.values())


def _reserve(folder: Path, experiment: str, suffix: str, stub: dict) -> int:
    """Reserve the next free number: create its record and payload names exclusively."""
    number = _first_candidate(folder, experiment)
    collisions = 0
    while True:
        record = folder / f"{experiment}.{number}{RECORD_SUFFIX}"
        payload = folder / f"{experiment}.{number}{suffix}"
        if _create_exclusive(record, json.dumps({**stub, "number": number}).encode()):
            if not _taken_by_another_tool(folder, experiment, number) and _create_exclusive(
                payload
            ):
                return number
            record.unlink()
        collisions += 1
        number += 1
        if collisions % RELIST_AFTER == 0:
            number = max(number, max(list_numbers(folder, experiment), default=-1) + 1)


# ---- saving --------------------------------------------------------------------------------


def arguments_of(args: argparse.Namespace | Mapping | None) -> dict:
    """``args`` (a Namespace or a dict) as JSON data for the record."""
    if args is None:
        return {}
    if isinstance(args, argparse.Namespace):
        args = vars(args)
    if not isinstance(args, Mapping):
        raise ResultsError(
            f"args must be an argparse Namespace or a dict, not {type(args).__name__}"
        )
    return {str(name): codecs.jsonable(value) for name, value in args.items()}


def scalars_of(data: Any) -> dict:
    """The scalar values of a dict result (numbers, booleans, short text), for runs()."""
    if not isinstance(data, Mapping):
        return {}
    found = {}
    for name, value in data.items():
        if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):  # numpy scalar
            value = value.item()
        if isinstance(value, bool | int | float) or (
            isinstance(value, str) and len(value) <= MAX_SCALAR_TEXT
        ):
            found[str(name)] = codecs.jsonable(value)
    return found


def contents_and_sources(data: Any, left_out: dict) -> dict:
    """The part of a record a run and an interim file share: the scalar values saved, the
    names left out, package versions, and the inputs and results this process read."""
    return {
        "scalars": scalars_of(data),
        "left_out": left_out,
        "versions": provenance.versions(),
        "inputs": codecs.jsonable(provenance.inputs()),
        "results_read": codecs.jsonable(provenance.results_read()),
    }


def format_name(format: str) -> str:
    try:
        return codecs.format_of(format)
    except codecs.CodecError as error:
        raise ResultsError(str(error)) from None


def save(
    experiment: str,
    data: Any,
    *,
    args: argparse.Namespace | Mapping | None = None,
    format: str = "pickle",
    strict: bool = False,
) -> Path:
    """Save ``data`` as the next numbered result of ``experiment``; return the payload's path.

    ``format`` is ``"pickle"`` (any object), ``"mat"`` (a dict of arrays and scipy
    sparse matrices, for MATLAB/Octave and ``scipy.io.loadmat``), ``"npz"`` (arrays),
    ``"json"`` or ``"parquet"`` (a pandas DataFrame). ``args`` (an argparse Namespace or
    a dict) goes into the run record and becomes columns of ``runs()``, as do the
    scalar values of a dict ``data``. Example, at the end of a script::

        results.save("kmeans", {"inertia": inertia, "labels": labels}, args=args)

    Names of a dict ``data`` that the format cannot hold (a generator for pickle, say)
    are left out with a :class:`PartialSave` warning, and the record's ``left_out``
    says which and why; with ``strict=True`` nothing is saved instead.
    """
    format = format_name(format)
    folder = folder_of(experiment)
    arguments = arguments_of(args)
    facts = provenance.run_facts(paths.find_root())
    started = facts.pop("_started")
    folder.mkdir(parents=True, exist_ok=True)
    remove_dead_temp_files(folder)
    temp, left_out = write_temp(folder, experiment, data, format, strict)
    if left_out:
        data = {key: value for key, value in data.items() if str(key) not in left_out}
    suffix = FORMATS[format]
    try:
        payload = {"size": temp.stat().st_size, "sha256": provenance.file_hash(temp)}
        stub = {"experiment": experiment, "status": "running", "format": format, **facts}
        number = _reserve(folder, experiment, suffix, stub)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    record_path = folder / f"{experiment}.{number}{RECORD_SUFFIX}"
    payload_path = folder / f"{experiment}.{number}{suffix}"
    try:
        os.replace(temp, payload_path)
        ended = time.time()
        record = {
            "experiment": experiment,
            "number": number,
            "status": "complete",
            "format": format,
            "payload": {"file": payload_path.name, **payload},
            **facts,
            "ended": provenance.timestamp(ended),
            "duration": round(ended - started, 3),
            "args": arguments,
            **contents_and_sources(data, left_out),
        }
        write_json_atomically(record_path, record)
    except BaseException as error:
        with contextlib.suppress(OSError):
            temp.unlink(missing_ok=True)
            failed = {**stub, "number": number, "status": "failed", "error": repr(error)}
            write_json_atomically(record_path, failed)
        raise
    if number % HINT_EVERY == 0:
        write_hint(folder, experiment, number)
    if left_out:
        reasons = "; ".join(f"{key!r}: {why}" for key, why in left_out.items())
        warnings.warn(
            f"{payload_path.name} saved without {reasons} (listed as left_out in its record; "
            "strict=True saves nothing instead)",
            PartialSave,
            stacklevel=2,
        )
    return payload_path


# ---- reading -------------------------------------------------------------------------------


def read_record(path: Path) -> dict | None:
    """The record at ``path``; None if it is missing, empty or not a JSON object."""
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def record(experiment: str, number: int) -> dict:
    """The JSON run record of run ``number`` (complete or not) of ``experiment``."""
    folder = existing_folder(experiment)
    path = folder / f"{experiment}.{int(number)}{RECORD_SUFFIX}"
    if not path.exists():
        raise ResultsError(f"{experiment!r} has no run {number}: {path} does not exist")
    found = read_record(path)
    if found is None:
        raise ResultsError(f"{path} is not a readable run record (empty or damaged JSON)")
    return found


def load(experiment: str, number: int) -> Any:
    """The data saved by run ``number`` of ``experiment`` (a complete run only)."""
    found = record(experiment, number)
    if found.get("status") != "complete":
        raise ResultsError(
            f"run {number} of {experiment!r} is {found.get('status', 'incomplete')}, not complete "
            f"(crashed, failed or still running): see `invoke results {experiment}`"
        )
    payload = found.get("payload")
    name = payload.get("file") if isinstance(payload, dict) else None
    format = found.get("format")
    if not isinstance(name, str) or format not in FORMATS:
        raise ResultsError(
            f"{existing_folder(experiment) / f'{experiment}.{number}{RECORD_SUFFIX}'} names no "
            "payload file and format: the record was changed by hand"
        )
    path = paths.inside(existing_folder(experiment), name)
    try:
        data = codecs.read(path, format)
    except Exception as error:
        raise ResultsError(
            f"{path} cannot be read as {format} ({type(error).__name__}: {error}): "
            "the file is damaged or was changed after the run"
        ) from error
    provenance.note_result_read(experiment, int(number), path)
    return data


def latest_number(experiment: str) -> int:
    """The number of the newest complete run of ``experiment``."""
    folder = existing_folder(experiment)
    for number in sorted(list_numbers(folder, experiment), reverse=True):
        found = read_record(folder / f"{experiment}.{number}{RECORD_SUFFIX}")
        if found is not None and found.get("status") == "complete":
            return number
    raise ResultsError(f"{experiment!r} has no complete run yet in {folder}")


def load_latest(experiment: str) -> Any:
    """The data of the newest complete run of ``experiment`` (the highest number)."""
    return load(experiment, latest_number(experiment))
