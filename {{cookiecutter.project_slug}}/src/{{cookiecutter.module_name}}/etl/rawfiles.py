"""Reading raw data files: decompression, the header, and rows as Arrow string columns.

A source is opened once: a :class:`Tap` under the decompressor counts and hashes
the compressed bytes as they are read (progress and the manifest's hash, with no
second read). Rows come out as lists of ``pyarrow`` string arrays, every field
as written in the file (an empty field is ``""``); typing them is the job of
:mod:`.inference`.

Two readers give the same rows: :func:`fast_batches` (pyarrow's streaming CSV
parser on its own thread) and :func:`careful_batches` (Python's ``csv`` module,
slower, but it knows the line number of every record, so it can name or skip a
bad line). The loader uses the fast one and falls back on the careful one only
when a file has a problem.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import errno
import hashlib
import io
import lzma
import os
import shutil
import stat
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ProjectError

COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst", ".zip")
DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".psv": "|", ".txt": None}
DATA_TYPES = (*DELIMITERS, ".jsonl", ".ndjson", ".json", ".xml")
SAMPLE_BYTES = 1 << 16
MAX_HEADER_BYTES = 1 << 24
BLOCK_BYTES = 1 << 20
CAREFUL_BATCH_ROWS = 20_000
MB = 1 << 20


class SourceError(ProjectError):
    """A raw file cannot be read as configured: the message names the file and the fix."""


class BadLine(SourceError):
    """One record of a file is malformed; ``line`` is its first physical line (1-based)."""

    def __init__(self, source: str, line: int, reason: str, text: str):
        self.source, self.line, self.reason, self.text = source, line, reason, text
        super().__init__(
            f"{source} line {line}: {reason}: {preview(text)} "
            "(fix the file, or run with on_bad_lines='skip' to load the other lines)"
        )


ENDLESS = "is it really a table (a file that expands to one endless line)?"


class LineTooLong(SourceError):
    """A line (or field, or record) is longer than the ``max_line_mb`` setting allows."""

    def __init__(self, label, line: int | None, limit: int, what: str = "line", hint=ENDLESS):
        self.label, self.line, self.limit, self.what, self.hint = label, line, limit, what, hint
        where = f"{label} line {line}" if line else label
        super().__init__(
            f"{where}: a {what} longer than max_line_mb = {limit // MB} (MB): {hint} If it is "
            "real, raise max_line_mb in the table's settings"
        )


class LineLimit(io.RawIOBase):
    """The bytes of ``stream``, refusing a line longer than ``limit`` bytes as it is read.

    Only the distance between line endings is tracked (two searches and a count per block of
    about a megabyte), so a line is refused before any reader above holds it whole. A quoted
    field left open needs no tracking here: pyarrow refuses a record longer than its block,
    and the careful reader then refuses a field longer than ``limit``.
    """

    def __init__(self, stream, limit: int, label: str):
        self.stream, self.limit, self.label = stream, limit, label
        self.line = 1  # the line being read
        self.run = 0  # bytes read since the last line ending

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        # A line inside one block is shorter than the block: blocks no longer than the limit
        # keep every line checked.
        n = self.stream.readinto(memoryview(buffer)[: self.limit])
        if n:
            self.check(buffer, n)
        return n

    def check(self, buffer, n: int) -> None:
        """Count the line endings of a block just read; refuse a line past the limit."""
        import numpy as np  # scans the block in place, several times faster than bytes methods

        ends = np.frombuffer(buffer, np.uint8, n) == 10  # no copy of the block
        count = int(np.count_nonzero(ends))
        if not count:
            self.run += n
        else:
            if self.run + int(ends.argmax()) > self.limit:
                raise LineTooLong(self.label, self.line, self.limit)
            self.line += count
            tail = np.flatnonzero(ends[-(1 << 16) :])  # the last line ending, found near the end
            last = n - min(n, 1 << 16) + int(tail[-1]) if len(tail) else np.flatnonzero(ends)[-1]
            self.run = n - 1 - int(last)
        if self.run > self.limit:
            raise LineTooLong(self.label, self.line, self.limit)


def limit_lines(stream, limit: int, label: str):
    """``stream`` (binary, buffered) refusing lines longer than ``limit`` bytes."""
    return io.BufferedReader(LineLimit(stream, limit, label), BLOCK_BYTES)


def preview(text: str, limit: int = 60) -> str:
    """The first bytes of a line as a Python bytes literal (undecodable bytes shown as \\x..)."""
    data = text.encode("utf-8", "surrogateescape")
    return repr(data[:limit]) + ("..." if len(data) > limit else "")


def split_name(name: str) -> tuple[str, str, str]:
    """``'Tweets 2015.csv.gz'`` -> ``('Tweets 2015', '.csv', '.gz')``: stem, type, compression."""
    lower = name.lower()
    compression = next((c for c in COMPRESSIONS if lower.endswith(c)), "")
    rest = name[: len(name) - len(compression)]
    data = next((d for d in DATA_TYPES if rest.lower().endswith(d)), "")
    return rest[: len(rest) - len(data)], data, compression


class Tap(io.RawIOBase):
    """A raw file that counts and hashes the bytes read through it (seeks are passed on)."""

    def __init__(self, handle):
        self.handle = handle
        self.hash = hashlib.sha256()
        self.count = 0
        self.hashing = True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return self.handle.seekable()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def readinto(self, buffer) -> int:
        n = self.handle.readinto(buffer)
        if n:
            self.count += n
            if self.hashing:
                self.hash.update(memoryview(buffer)[:n])
        return n

    def restart_hash(self) -> None:
        self.hash = hashlib.sha256()

    def close(self) -> None:
        self.handle.close()
        super().close()


class Lbzip2(io.RawIOBase):
    """bzip2 decompressed by ``lbzip2`` on every core (when installed; ``bz2`` runs on one).

    A thread feeds it the compressed bytes through the :class:`Tap`, so they are still
    counted and hashed as they are read; a damaged file fails as ``bz2`` would fail.
    """

    def __init__(self, tap: Tap):
        self.process = subprocess.Popen(
            ["lbzip2", "-d", "-c", "-n", str(os.cpu_count() or 1)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.feeder = threading.Thread(
            target=self._feed, args=(tap,), name="lbzip2-feeder", daemon=True
        )
        self.feeder.start()

    def _feed(self, tap: Tap) -> None:
        try:
            while chunk := tap.read(BLOCK_BYTES):
                self.process.stdin.write(chunk)
        except (BrokenPipeError, ValueError, OSError):
            pass  # lbzip2 stopped (a damaged file) or the load was abandoned
        finally:
            try:
                self.process.stdin.close()
            except OSError:
                pass

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.process.stdout.readinto(buffer)
        if not n and self.process.wait() != 0:
            message = self.process.stderr.read().decode(errors="replace").strip().splitlines()
            raise EOFError(f"lbzip2: {message[-1] if message else 'failed'}")
        return n

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.feeder.join()
        for pipe in (self.process.stdout, self.process.stderr):
            pipe.close()
        super().close()


class Transcoder(io.RawIOBase):
    """A binary stream of UTF-8 made from a stream in another encoding (undecodable bytes kept as
    surrogate escapes, which the careful reader reports with their line)."""

    def __init__(self, stream, encoding: str):
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder(encoding)(errors="surrogateescape")
        self.pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self.pending:
            chunk = self.stream.read(BLOCK_BYTES)
            text = self.decoder.decode(chunk, final=not chunk)
            self.pending = text.encode("utf-8", "surrogatepass")
            if not chunk:
                break
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


class Prefixed(io.RawIOBase):
    """``prefix`` followed by the rest of ``stream``: the bytes read ahead to find the header."""

    def __init__(self, prefix: bytes, stream):
        self.prefix = memoryview(prefix)
        self.stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if len(self.prefix):
            n = min(len(buffer), len(self.prefix))
            buffer[:n] = self.prefix[:n]
            self.prefix = self.prefix[n:]
            return n
        return self.stream.readinto(buffer)


@dataclass
class Source:
    """An opened raw file: ``stream`` gives the decompressed bytes, ``tap`` the compressed count."""

    path: Path
    label: str
    stream: io.BufferedIOBase
    tap: Tap
    size: int
    closers: list = field(default_factory=list)

    def close(self) -> None:
        for closer in reversed(self.closers):
            closer.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_source(path: Path, label: str) -> Source:
    """Open ``path`` for reading its decompressed bytes; ``label`` names it in messages."""
    try:
        info = path.stat()
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise SourceError(
                f"{label}: is a symbolic link that leads back to itself ({error.strerror}): "
                "remove it, or point it at the data file"
            ) from None
        raise SourceError(f"{label}: cannot read it ({error.strerror}): check the file") from None
    if not stat.S_ISREG(info.st_mode):
        raise SourceError(
            f"{label}: is not a regular file (a pipe, device or folder): move it out of data/raw"
        )
    if info.st_size == 0:
        raise SourceError(
            f"{label}: is empty (0 bytes): remove it or replace it with the real data"
        )
    try:
        handle = open(path, "rb", buffering=0)  # noqa: SIM115 (closed by Source.close)
    except OSError as error:
        raise SourceError(
            f"{label}: cannot read it ({error.strerror}): check its permissions"
        ) from None
    tap = Tap(handle)
    compression = split_name(path.name)[2]
    closers: list = [tap]
    if compression == ".gz":
        from isal import igzip_threaded

        stream = igzip_threaded.open(io.BufferedReader(tap, BLOCK_BYTES), "rb", threads=1)
    elif compression == ".bz2" and shutil.which("lbzip2"):
        stream = io.BufferedReader(Lbzip2(tap), BLOCK_BYTES)
    elif compression == ".bz2":
        stream = bz2.BZ2File(io.BufferedReader(tap, BLOCK_BYTES))
    elif compression == ".xz":
        stream = lzma.LZMAFile(io.BufferedReader(tap, BLOCK_BYTES))
    elif compression == ".zst":
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(
            tap, read_size=BLOCK_BYTES, read_across_frames=True
        )
        stream = io.BufferedReader(reader, BLOCK_BYTES)
    elif compression == ".zip":
        stream = open_zip_member(tap, label)
    else:
        stream = io.BufferedReader(tap, BLOCK_BYTES)
    closers.append(stream)
    return Source(path, label, stream, tap, info.st_size, closers)


def open_zip_member(tap: Tap, label: str):
    """The one data file of a zip; the hash then covers that member's stored bytes."""
    tap.hashing = False
    try:
        archive = zipfile.ZipFile(tap)
    except zipfile.BadZipFile as error:
        raise SourceError(f"{label}: is not a readable zip file ({error})") from None
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) != 1:
        names = ", ".join(m.filename for m in members[:5]) + (", ..." if len(members) > 5 else "")
        raise SourceError(
            f"{label}: a .zip must hold exactly one data file, this one holds {len(members)} "
            f"({names}): unzip it into a folder of parts instead"
        )
    tap.hashing = True
    tap.restart_hash()
    tap.count = 0
    return archive.open(members[0])


def read_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean a compressed file is damaged or cut short."""
    errors: list[type[BaseException]] = [EOFError, OSError, lzma.LZMAError, zipfile.BadZipFile]
    try:
        import zstandard

        errors.append(zstandard.ZstdError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(errors)


def damaged(label: str, error: BaseException, after_line: int | None = None) -> SourceError:
    where = f" after line {after_line}" if after_line else ""
    return SourceError(
        f"{label}: the file is damaged or cut short{where} ({type(error).__name__}: {error}): "
        "download or copy it again"
    )


# ---- the header ----------------------------------------------------------------------------------


@dataclass
class Layout:
    """How a file is laid out: dialect, column names and where the data rows start."""

    delimiter: str
    quote: str
    header: list[str]
    names: list[str]
    data_start: bytes  # the bytes read ahead after the header
    lines_before_data: int  # physical lines up to and including the header
    encoding: str
    selected: list[int] | None = None  # positions of the columns loaded (None: all)

    @property
    def sources(self) -> list[str]:
        """The header's names of the columns loaded."""
        if self.selected is None:
            return self.header
        return [self.header[i] for i in self.selected]


def record_end(data: bytes, quote: int, start: int = 0) -> int:
    """Offset just past the first record's line ending in ``data``, or -1 if it is not complete."""
    quoted = False
    i, n = start, len(data)
    while i < n:
        byte = data[i]
        if byte == quote:
            quoted = not quoted
        elif not quoted and byte in (10, 13):
            if byte == 13 and i + 1 < n and data[i + 1] == 10:
                return i + 2
            if byte == 13 and i + 1 == n:
                return -1  # a \r\n may be split across reads
            return i + 1
        i += 1
    return -1


def line_end(data: bytes, start: int) -> int:
    """Offset past the next physical line ending (no quoting), or -1."""
    for i in range(start, len(data)):
        if data[i] == 10 or (data[i] == 13 and i + 1 < len(data) and data[i + 1] != 10):
            return i + 1
    return -1


def decoded_stream(stream, encoding: str):
    """A UTF-8 byte stream from ``stream`` in ``encoding``; a UTF-8 or UTF-16 BOM is detected."""
    head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
    if head.startswith(codecs.BOM_UTF8):
        stream.read(3)
        return stream, "utf-8-sig"
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) and encoding.lower().replace(
        "_", "-"
    ) in (
        "utf-8",
        "utf8",
        "utf-16",
    ):
        return io.BufferedReader(Transcoder(stream, "utf-16"), BLOCK_BYTES), "utf-16"
    if codecs.lookup(encoding).name in ("utf-8",):
        return stream, "utf-8"
    return io.BufferedReader(Transcoder(stream, encoding), BLOCK_BYTES), codecs.lookup(
        encoding
    ).name


def unique_names(header: list[str]) -> list[str]:
    """Column names for a header: empty names become ``column_<n>``, repeats get ``_2``, ``_3``...

    >>> unique_names(["col", "col", "", "Col"])
    ['col', 'col_2', 'column_3', 'Col_3']
    """
    names: list[str] = []
    taken: set[str] = set()
    for position, raw in enumerate(header, start=1):
        name = raw if raw.strip() else f"column_{position}"
        candidate, n = name, 1
        while candidate.lower() in taken:  # SQLite column names ignore ASCII case
            n += 1
            candidate = f"{name}_{n}"
        taken.add(candidate.lower())
        names.append(candidate)
    return names


def read_layout(stream, label: str, settings: dict, extension: str) -> tuple[Layout, object]:
    """Read the header from ``stream``; return the layout and the stream to read the data from."""
    stream, encoding = decoded_stream(stream, settings.get("encoding", "utf-8"))
    quote = settings.get("quote", '"')
    data = b""
    position = 0
    lines = 0
    for _ in range(int(settings.get("skip_rows", 0))):
        while (end := line_end(data, position)) < 0:
            more = stream.read(SAMPLE_BYTES)
            if not more:
                raise SourceError(
                    f"{label}: has fewer lines than skip_rows = {settings['skip_rows']}"
                )
            data += more
        position, lines = end, lines + 1
    given = settings.get("columns")
    has_header = settings.get("header", True)
    while (end := record_end(data, ord(quote), position)) < 0:
        more = stream.read(SAMPLE_BYTES)
        if not more:
            end = len(data)
            break
        data += more
        if len(data) > MAX_HEADER_BYTES:
            raise SourceError(
                f"{label}: no line ending in its first 16 MB: is it really a text table?"
            )
    first = data[position:end]
    if not first.strip(b"\r\n") and not given:
        raise SourceError(
            f"{label}: holds no header line (only blank lines): is it the right file?"
        )
    try:
        first_text = first.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SourceError(
            f"{label} line {lines + 1}: byte {first[error.start : error.start + 1]!r} is not UTF-8 "
            f'({preview(first.decode("utf-8", "surrogateescape"))}): set encoding = "latin-1" '
            "(or the file's encoding) in the table's settings"
        ) from None
    previous = csv.field_size_limit(MAX_HEADER_BYTES)  # put back at once: no lasting effect
    try:
        delimiter = settings.get("delimiter") or guess_delimiter(
            first_text, DELIMITERS.get(extension), quote
        )
        header = next(
            csv.reader([first_text.rstrip("\r\n")], delimiter=delimiter, quotechar=quote), [""]
        )
    finally:
        csv.field_size_limit(previous)
    selected = None
    if given and has_header and set(given) <= set(header) and len(set(header)) == len(header):
        names = list(given)  # the header's columns to load, in this order
        selected = [header.index(name) for name in given]
    elif given:
        names = list(given)
        if has_header and len(names) != len(header):
            missing = next(n for n in given if n not in header)
            raise SourceError(
                f"{label}: columns names {missing!r}, which its header does not have (columns "
                f"either picks header names, or renames all {len(header)} columns)"
            )
    elif has_header:
        names = unique_names(header)
    else:
        names = [f"column_{i}" for i in range(1, len(header) + 1)]
    if has_header:
        position = end
        lines += first.count(b"\n") + first.count(b"\r") - first.count(b"\r\n")
    return Layout(
        delimiter,
        quote,
        header if has_header else names,
        names,
        data[position:],
        lines,
        encoding,
        selected,
    ), stream


def guess_delimiter(line: str, default: str | None, quote: str) -> str:
    """The extension's delimiter, unless the header line has none of it but one other candidate."""
    counts = {
        d: len(next(csv.reader([line], delimiter=d, quotechar=quote), [])) - 1 for d in ",\t;|"
    }
    if default and counts.get(default, 0) > 0:
        return default
    found = [d for d, n in counts.items() if n > 0]
    if len(found) == 1:
        return found[0]
    if found:
        return max(found, key=lambda d: counts[d])
    return default or ","


# ---- rows ----------------------------------------------------------------------------------------


def fast_batches(stream, layout: Layout) -> Iterator[list]:
    """Rows as lists of string arrays, parsed by pyarrow on its own thread (no line numbers)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    internal = [f"c{i}" for i in range(len(layout.header))]
    wanted = internal if layout.selected is None else [internal[i] for i in layout.selected]
    reader = pacsv.open_csv(
        Prefixed(layout.data_start, stream),
        read_options=pacsv.ReadOptions(
            column_names=internal, block_size=BLOCK_BYTES, use_threads=True
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=layout.delimiter,
            quote_char=layout.quote,
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            ignore_empty_lines=True,
        ),
        convert_options=pacsv.ConvertOptions(
            include_columns=wanted,
            column_types={name: pa.string() for name in internal},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    for batch in reader:
        yield batch.columns


@dataclass
class Rejected:
    line: int
    reason: str
    text: str


def careful_records(
    stream, layout: Layout, label: str, limit: int = 64 * MB
) -> Iterator[tuple[int, list[str] | Rejected]]:
    """``(line, fields)`` for every record, or ``(line, Rejected)`` for a malformed one.

    A field longer than ``limit`` bytes (a quote never closed, say) is a bad line, so the
    reader never holds more than that. The csv module's field limit is process-wide: it is
    set for the time of each read and put back.
    """
    previous = csv.field_size_limit()
    try:
        yield from _careful_records(stream, layout, label, limit)
    finally:
        csv.field_size_limit(previous)


def _careful_records(stream, layout, label, limit):
    text = io.TextIOWrapper(
        io.BufferedReader(Prefixed(layout.data_start, stream)),
        encoding="utf-8",
        errors="surrogateescape",
        newline="",
    )
    lines = iter(text)
    reader = csv.reader(lines, delimiter=layout.delimiter, quotechar=layout.quote, doublequote=True)
    width = len(layout.header)
    done = 0  # physical lines consumed before the current record
    while True:
        csv.field_size_limit(limit)  # again: another reader may have set it meanwhile
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            reason = f"not valid CSV ({error})"
            if "field larger than field limit" in str(error):
                reason = f"a field longer than max_line_mb = {limit // MB} (MB)"
            yield (
                layout.lines_before_data + done + 1,
                Rejected(layout.lines_before_data + done + 1, reason, ""),
            )
            done = reader.line_num
            continue
        first_line = layout.lines_before_data + done + 1
        done = reader.line_num
        if not record:
            continue
        joined = layout.delimiter.join(record)
        if len(record) != width:
            yield (
                first_line,
                Rejected(first_line, f"expected {width} fields, found {len(record)}", joined),
            )
        elif not joined.isascii() and has_surrogate(joined):
            byte = next(ch for ch in joined if "\udc80" <= ch <= "\udcff").encode(
                "utf-8", "surrogateescape"
            )
            yield (
                first_line,
                Rejected(first_line, undecodable(byte, layout.encoding), joined),
            )
        elif layout.selected is not None:
            yield first_line, [record[i] for i in layout.selected]
        else:
            yield first_line, record


def undecodable(byte: bytes, encoding: str) -> str:
    """Why a line was refused for a byte, and the setting that reads a file in another encoding."""
    return (
        f"byte {byte!r} is not valid {encoding} (if the file is in another encoding, "
        'set encoding = "latin-1" or its name in the table\'s settings)'
    )


def has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
