"""Intermediate data in ``data/interim/``: a payload (``.mat`` by default) with a record beside it.

``save_interim("distances", {"d": matrix})`` writes ``data/interim/distances.mat`` and
``distances.record.json`` (the same provenance as a run's); :func:`load_interim` reads it
back and notes it as an input, so the records of later runs cite it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from .. import paths, provenance
from . import codecs
from .codecs import FORMATS
from .store import (
    ResultsError,
    check_name,
    contents_and_sources,
    format_name,
    read_record,
    remove_dead_temp_files,
    write_json_atomically,
)
from .store import write_temp as _write_temp


def _interim_paths(name: str, format: str) -> tuple[Path, Path]:
    check_name(name, "interim")
    payload = paths.inside(paths.INTERIM_DIR, name + FORMATS[format])
    return payload, payload.with_name(f"{name}.record.json")


def save_interim(name: str, data: Any, format: str = "mat", strict: bool = True) -> Path:
    """Save intermediate data as ``data/interim/<name>.mat`` (or ``.npz``, ...); return its path.

    A record ``<name>.record.json`` beside it carries the same provenance as a run's,
    and :func:`load_interim` cites it when a later run reads the file. Unlike a run,
    intermediate data is saved whole or not at all (``strict``).
    """
    format = format_name(format)
    payload, record_path = _interim_paths(name, format)
    facts = provenance.run_facts(paths.find_root())
    facts.pop("_started")
    payload.parent.mkdir(parents=True, exist_ok=True)
    remove_dead_temp_files(payload.parent)
    temp, left_out = _write_temp(payload.parent, name, data, format, strict)
    digest = provenance.file_hash(temp)
    os.replace(temp, payload)
    stat = payload.stat()
    record = {
        "interim": name,
        "format": format,
        "payload": {
            "file": payload.name,
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "sha256": digest,
        },
        **facts,
        "ended": provenance.timestamp(time.time()),
        **contents_and_sources(data, left_out),
    }
    write_json_atomically(record_path, record)
    return payload


def load_interim(name: str) -> Any:
    """The data of ``data/interim/<name>.*``, saved by :func:`save_interim` or put there."""
    check_name(name, "interim")
    folder = paths.INTERIM_DIR
    found = read_record(paths.inside(folder, f"{name}.record.json")) or {}
    candidates = {
        fmt: folder / f"{name}{suffix}"
        for fmt, suffix in FORMATS.items()
        if (folder / f"{name}{suffix}").is_file()
    }
    saved = found.get("payload") if isinstance(found.get("payload"), dict) else {}
    written = saved.get("file")
    if isinstance(written, str) and found.get("format") in FORMATS and (folder / written).is_file():
        format, path = found["format"], folder / written
    elif len(candidates) == 1:
        (format, path), found, saved = next(iter(candidates.items())), {}, {}
    elif not candidates:
        raise ResultsError(
            f"no intermediate data {name!r} in {folder}: save it with save_interim first"
        )
    else:
        names = ", ".join(p.name for p in candidates.values())
        raise ResultsError(f"{name!r} is ambiguous in {folder} ({names}): remove all but one")
    try:
        data = codecs.read(path, format)
    except Exception as error:
        raise ResultsError(
            f"{path} cannot be read as {format} ({type(error).__name__}: {error}): "
            "the file is damaged"
        ) from error
    details = {"role": "interim"}
    stat = path.stat()
    if saved.get("size") == stat.st_size and saved.get("mtime_ns") == stat.st_mtime_ns:
        details.update(sha256=saved.get("sha256"), written_by=found.get("script"))
    provenance.note_input(path, **details)
    return data
