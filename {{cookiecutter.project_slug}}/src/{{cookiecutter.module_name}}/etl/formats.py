"""Raw files of records rather than rows: JSON Lines, JSON arrays, XML row dumps, and readers
you write.

A ``.json`` file is read as JSON Lines when it starts with an object, and as one array of
objects (streamed by ijson, at flat memory whatever its size) when it starts with ``[``.

Each reader turns an opened, decompressed binary stream into ``(number, record)``
pairs, where ``number`` is the line (JSON Lines) or record (XML, your reader) number
and ``record`` a dict from column name to text (or None), or a
:class:`~.rawfiles.Rejected` for a bad record. The loader in :mod:`.etl` types the
text exactly as it types CSV fields, adds a column when a key first appears (earlier
rows get NULL), and handles bad records, the manifest and the atomic replacement.

Values become text as follows: strings as they are, numbers as written in the file
(JSON) or as Python writes them (``repr``, your reader), ``true``/``false`` as
``1``/``0`` (as SQLite's JSON functions do), null as NULL, and nested objects or
arrays as JSON text, queryable with SQLite's JSON functions
(``SELECT json_extract(user, '$.id') FROM tweets``).

A reader of your own is a function in your package that takes a text stream and
yields dicts (or tuples, with ``columns`` set); map a file pattern to it in
``pyproject.toml``: ``readers = {"memetracker/*" = "<package>.readers:memetracker"}``
under ``[tool.<package>.etl]``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fnmatch import fnmatch
from pathlib import Path

from ..errors import ProjectError
from . import inference
from .rawfiles import MB, LineTooLong, Prefixed, Rejected, preview

JSON_EXTENSIONS = (".jsonl", ".ndjson", ".json")
XML_EXTENSIONS = (".xml",)


class ReaderError(ProjectError):
    """A reader cannot be found, or it failed on a file."""


def text_of(value) -> str | None:
    """A value as the text the loader types: numbers keep their digits, nested values are JSON.

    >>> [text_of(v) for v in ["a", 7, Decimal("1.50"), True, None, {"b": [1, Decimal("2.0")]}]]
    ['a', '7', '1.50', '1', None, '{"b":[1,2.0]}']
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return _json(value)


def _json(value) -> str:
    """``value`` as compact JSON text, without recursion (nesting of any depth)."""
    out: list[str] = []
    stack: list = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Literal):
            out.append(item)
        elif isinstance(item, dict):
            stack.append(_Literal("}"))
            for number, (key, inner) in enumerate(reversed(list(item.items()))):
                stack.append(inner)
                stack.append(_Literal(json.dumps(str(key), ensure_ascii=False) + ":"))
                if number < len(item) - 1:
                    stack.append(_Literal(","))
            stack.append(_Literal("{"))
        elif isinstance(item, list | tuple):
            stack.append(_Literal("]"))
            for number, inner in enumerate(reversed(item)):
                stack.append(inner)
                if number < len(item) - 1:
                    stack.append(_Literal(","))
            stack.append(_Literal("["))
        elif isinstance(item, Decimal):
            out.append(str(item))
        else:
            out.append(json.dumps(item, ensure_ascii=False))
    return "".join(out)


class _Literal(str):
    """JSON punctuation waiting on :func:`_json`'s stack."""


def flatten(record: dict) -> dict:
    """Nested objects one level deep become columns: ``{"user": {"id": 1}}`` -> ``user_id``."""
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict):
            for inner, item in value.items():
                flat[f"{key}_{inner}"] = item
        else:
            flat[key] = value
    return flat


@dataclass
class Chunk:
    """Records read together: their line or record numbers, and the bad ones set apart."""

    numbers: list[int]
    records: list[dict]
    rejected: list[Rejected] = field(default_factory=list)


CHUNK = 10_000


BLOCK = 1 << 21  # bytes of JSON Lines read (and parsed by Arrow) at a time

# A number that is an object member's value: a key's closing quote, ``:``, the number. Only a
# whole JSON number matches: the rest of a bad one (``01``, ``1.``, ``1e``) stays and fails.
# A match inside a string ("at \\":5") puts a quote before the digits, which ends the string
# there and leaves digits after a string: never valid JSON, so such a block is read again.
MEMBER_NUMBER = r'":\s*(-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)'


@dataclass
class Columns:
    """A block of JSON Lines parsed by Arrow: one string array per key, rows in line order.

    Each value is the text :func:`text_of` gives (numbers as written, ``true`` as ``1``).
    :meth:`exact` reads the same lines again record by record, with their line numbers.
    """

    first: int  # line number of the block's first line
    lines: int
    raw: bytes
    names: list[str]
    arrays: list
    settings: dict

    @property
    def last(self) -> int:
        return self.first + self.lines - 1

    def exact(self) -> list[Chunk]:
        return list(_exact_lines(self.raw, self.first, self.settings))


def json_lines(stream, settings: dict) -> Iterator[Chunk | Columns]:
    """One JSON object per line; a line that is not one is a bad line (blank lines are skipped).

    Numbers are read as their text (so ``1.50`` and ``12345678901234567890`` stay exact);
    nested values become JSON text with their numbers as written. Values are text, None, or
    booleans (the loader turns those into 1 and 0).

    Blocks of lines go to Arrow's JSON reader (in C++, on every core) after each member's
    number is put in quotes (so Arrow keeps its text): :class:`Columns`. A block Arrow cannot
    give exactly as the record reader would (nested values, a line that is not one object,
    duplicate keys, bad UTF-8, ...) is read record by record, ten thousand lines at a time in
    one call to Python's parser (line by line for a chunk with a bad line): :class:`Chunk`.
    """
    from concurrent.futures import ThreadPoolExecutor

    # flatten and columns follow the record reader's own rules: every block is read by it.
    exact_only = settings.get("flatten") or settings.get("columns")
    fast = None if exact_only else _ArrowLines(settings)
    first = 1
    pending: deque = deque()  # (block, its parse under way or None), in file order

    def finish():
        nonlocal first
        block, parsing = pending.popleft()
        columns = parsing.result() if parsing is not None else None
        if columns is not None:
            columns.first = first
            yield columns
            first += columns.lines
            return
        for chunk in _exact_lines(block, first, settings):
            if fast is not None:
                fast.learn(chunk.records)
            yield chunk
        first += block.count(b"\n")

    with ThreadPoolExecutor(2, thread_name_prefix="etl-json") as pool:  # two blocks at once
        for block in _line_blocks(stream):
            pending.append((block, pool.submit(fast.parse, block) if fast is not None else None))
            if len(pending) > 2:
                yield from finish()
        while pending:
            yield from finish()


class Prefetch:
    """The items of ``iterator``, made one or two ahead on a thread of their own.

    Reading, decompressing and parsing a block (in C, without the GIL) then overlap with
    typing the one before on the loading thread. An exception of the iterator is raised where
    its item would have come; :meth:`close` stops the thread.
    """

    _END = object()

    def __init__(self, iterator: Iterator, depth: int = 2):
        self.iterator = iterator
        self.queue: queue.Queue = queue.Queue(maxsize=depth)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="etl-prefetch", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for item in self.iterator:
                if not self._put((item, None)):
                    return
            self._put((self._END, None))
        except BaseException as error:  # handed to the loading thread
            self._put((self._END, error))
        finally:
            close = getattr(self.iterator, "close", None)
            if close is not None:  # a generator stopped early: its threads stop too
                with contextlib.suppress(Exception):  # its error was handed on already
                    close()

    def _put(self, entry) -> bool:
        while not self.stopped.is_set():
            try:
                self.queue.put(entry, timeout=0.25)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        while True:
            try:
                item, error = self.queue.get(timeout=0.25)
            except queue.Empty:  # waits in short steps, so Ctrl-C is heard
                continue
            if error is not None:
                raise error
            if item is self._END:
                return
            yield item

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()


def _line_blocks(stream) -> Iterator[bytes]:
    """``stream`` in blocks of whole lines, about :data:`BLOCK` bytes each (a longer line whole:
    the line limit keeps it bounded); the last may lack its newline."""
    pending: list[bytes] = []  # the start of a line not ended yet, piece by piece
    while data := stream.read(BLOCK):
        cut = data.rfind(b"\n") + 1
        if not cut:
            pending.append(data)
            continue
        if pending:
            pending.append(data[:cut])
            yield b"".join(pending)
            pending = []
        else:
            yield data if cut == len(data) else data[:cut]
        if cut < len(data):
            pending.append(data[cut:])
    if pending:
        yield b"".join(pending)


class _ArrowLines:
    """Parses blocks of JSON Lines with Arrow, or says (None) that the record reader must."""

    def __init__(self, settings: dict):
        self.settings = settings
        self.kinds: dict[str, object] = {}  # key -> pa.string() or pa.bool_(), as seen so far
        self.lock = threading.Lock()  # blocks are parsed on two threads at once

    def learn(self, records: list[dict]) -> None:
        """Note each key's kind from records read one by one, for Arrow's next block."""
        seen: dict[str, set] = {}
        for record in records:
            for key, value in record.items():
                if value is not None:
                    seen.setdefault(key, set()).add(type(value))
        with self.lock:
            self._note(seen)

    def _note(self, seen: dict[str, set]) -> None:
        import pyarrow as pa

        for key, found in seen.items():
            if found == {str}:
                self.kinds[key] = pa.string()
            elif found == {bool}:
                self.kinds[key] = pa.bool_()
            else:
                self.kinds.pop(key, None)

    def parse(self, block: bytes, schema=None) -> Columns | None:
        """The block's columns (numbered from line 1: the caller sets ``first``), or None.

        Keys of earlier blocks are read with their kind (so Arrow cannot take an ISO date for a
        timestamp); keys new in the block come after them, in the order they first appear.
        """
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.json as pj

        if not block.endswith(b"\n"):
            return None
        data = np.frombuffer(block, np.uint8)
        ends = np.flatnonzero(data == 10)
        starts = np.concatenate(([0], ends[:-1] + 1))
        # Each line is one object, with nothing around it: then Arrow's rows are the lines.
        if (data[starts] != ord("{")).any():
            return None
        last = ends - 1
        last = np.where(data[last] == ord("\r"), last - 1, last)
        if (data[last] != ord("}")).any():
            return None
        offsets = pa.py_buffer(np.concatenate(([0], ends + 1)))
        lines = pa.Array.from_buffers(
            pa.large_binary(), len(ends), [None, offsets, pa.py_buffer(block)]
        )
        longest = int(np.diff(ends, prepend=-1).max())
        if schema is None:
            with self.lock:
                schema = pa.schema(list(self.kinds.items()))
        try:
            lines = lines.cast(pa.large_string())  # checks the UTF-8 (Arrow's JSON reader does not)
            quoted = pc.replace_substring_regex(lines, pattern=MEMBER_NUMBER, replacement=r'":"\1"')
            size = pc.sum(pc.binary_length(quoted)).as_py()
            table = pj.read_json(
                pa.BufferReader(quoted.buffers()[2][:size]),
                read_options=pj.ReadOptions(block_size=max(1 << 20, 2 * longest + 64)),
                parse_options=pj.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior="infer"
                ),
            )
        except (pa.ArrowException, ValueError):  # UnicodeDecodeError too
            return None
        if table.num_rows != len(ends):
            return None
        names, arrays, learned = [], [], {}
        for name, column in zip(table.column_names, table.columns, strict=True):
            kind = column.type
            if pa.types.is_timestamp(kind):  # an ISO date Arrow read as one: read it as text
                retry = _as_text(table.schema)
                return None if retry.equals(schema) else self.parse(block, retry)
            if not (
                pa.types.is_string(kind) or pa.types.is_boolean(kind) or pa.types.is_null(kind)
            ):
                return None  # nested values (JSON text), or a number no pattern quoted
            values = column.combine_chunks()
            if pa.types.is_boolean(kind):
                learned[name] = {bool}
                one, zero = inference.strings(["1", "0"])  # no pa.scalar: it imports pandas
                values = pc.if_else(values, one, zero)
            elif pa.types.is_string(kind):
                learned[name] = {str}
            else:
                values = values.cast(pa.string())
            names.append(name)
            arrays.append(values)
        with self.lock:
            self._note(learned)
        return Columns(1, len(ends), block, names, arrays, self.settings)


def _as_text(schema):
    """``schema`` with text for its timestamps, every field in its place."""
    import pyarrow as pa

    return pa.schema(
        [(f.name, pa.string() if pa.types.is_timestamp(f.type) else f.type) for f in schema]
    )


def _exact_lines(block: bytes, first: int, settings: dict) -> Iterator[Chunk]:
    """The records of a block of lines, :data:`CHUNK` lines at a time, by Python's parser."""
    fast = json.JSONDecoder(parse_float=str, parse_int=str).decode
    exact = json.JSONDecoder(parse_float=Decimal).decode
    flat = bool(settings.get("flatten", False))
    lines = block.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for start in range(0, len(lines), CHUNK):
        batch = lines[start : start + CHUNK]
        numbers, texts, rejected = [], [], []
        for number, raw in enumerate(batch, start=first + start):
            line = raw.rstrip(b"\r")
            if not line.strip():
                continue
            try:
                texts.append(line.decode("utf-8"))
                numbers.append(number)
            except UnicodeDecodeError as error:
                bad = line[error.start : error.start + 1]
                reason = f"byte {bad!r} is not valid utf-8"
                rejected.append(Rejected(number, reason, line.decode("utf-8", "surrogateescape")))
        try:
            records = fast("[" + ",".join(texts) + "]")
            if not all(type(r) is dict for r in records):
                raise ValueError("not all objects")
        except (ValueError, RecursionError):  # JSONDecodeError too: find the bad lines one by one
            records, numbers, texts = _one_by_one(fast, texts, numbers, rejected)
        if flat:
            records = [flatten(r) for r in records]
        for record, text in zip(records, texts, strict=True):
            if text.find("{", 1) >= 0 or "[" in text:  # maybe nested values (or braces in text)
                _nested_as_json(record, text, exact, flat)
        yield Chunk(numbers, records, rejected)


def _one_by_one(decode, texts, numbers, rejected):
    records, kept = [], []
    for number, text in zip(numbers, texts, strict=True):
        try:
            record = decode(text)
        except RecursionError:
            reason = "nested deeper than Python's JSON parser can read"
            rejected.append(Rejected(number, reason, text))
            continue
        except json.JSONDecodeError as error:
            reason = f"not valid JSON ({error.msg}: column {error.colno})"
            rejected.append(Rejected(number, reason, text))
            continue
        if type(record) is not dict:
            rejected.append(
                Rejected(number, f"a JSON {type(record).__name__}, not an object", text)
            )
            continue
        records.append(record)
        kept.append((number, text))
    rejected.sort(key=lambda r: r.line)
    return records, [n for n, _ in kept], [t for _, t in kept]


def _nested_as_json(record: dict, text: str, exact, flat: bool) -> None:
    """Nested values of a record as JSON text, parsed again from ``text`` to keep numbers exact."""
    nested = [k for k, v in record.items() if isinstance(v, dict | list)]
    if nested:
        again = flatten(exact(text)) if flat else exact(text)  # no deeper than the first parse
        for key in nested:
            record[key] = _json(again[key])


def json_kind(stream) -> tuple[str, object]:
    """``("json", stream)`` for one JSON array, else ``("jsonl", stream)``, by the first byte that
    is not blank; the bytes read to find it are put back in front of the stream."""
    head = b""
    while len(head) < 1 << 20 and not head.lstrip():
        more = stream.read(1 << 16)
        if not more:
            break
        head += more
    start = head.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()[:1]
    rest = io.BufferedReader(Prefixed(head, stream), 1 << 20)
    return ("json" if start == b"[" else "jsonl"), rest


class _Budget(io.RawIOBase):
    """A stream that refuses to give more than ``limit`` bytes between two :meth:`reset` calls:
    no record a parser holds whole (a JSON item, an XML element) can outgrow the limit."""

    def __init__(self, stream, limit: int, what: str):
        self.stream, self.limit, self.what = stream, limit, what
        self.used = 0
        self.record = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.stream.readinto(buffer)
        self.used += n
        if self.used > self.limit + (1 << 20):  # the parser's read-ahead is allowed for
            raise LineTooLong("", None, self.limit, f"{self.what} (after record {self.record})")
        return n

    def reset(self, record: int) -> None:
        self.used, self.record = 0, record


def json_array(stream, settings: dict) -> Iterator[Chunk]:
    """The objects of one top-level JSON array, streamed by ijson; numbers keep their digits."""
    import ijson

    budget = _Budget(stream, settings.get("max_line_mb", 64) * MB, "JSON value")
    flat = bool(settings.get("flatten", False))
    chunk = Chunk([], [])
    number = 0
    items = ijson.items(io.BufferedReader(budget, 1 << 16), "item", use_float=False)
    try:
        for item in items:
            number += 1
            budget.reset(number)
            if type(item) is not dict:
                text = _json(item)
                reason = f"a JSON {type(item).__name__}, not an object"
                chunk.rejected.append(Rejected(number, reason, text))
                continue
            record = flatten(item) if flat else item
            chunk.numbers.append(number)
            chunk.records.append(
                {k: _json(v) if isinstance(v, dict | list) else v for k, v in record.items()}
            )
            if len(chunk.records) >= CHUNK:
                yield chunk
                chunk = Chunk([], [])
    except ijson.JSONError as error:
        raise ReaderError(
            f"not valid JSON after record {number} ({str(error).splitlines()[0][:80]}): "
            "is the file complete?"
        ) from None
    yield chunk


def xml_rows(stream, settings: dict) -> Iterator[tuple[int, dict | Rejected]]:
    """Each ``<row a="..." .../>`` element (the tag is the ``element`` setting) as its attributes.

    Elements are cleared as they go, so memory stays flat whatever the file's size. A file
    that is not well-formed XML stops here: the parser cannot resume after an error. The
    parser is fed blocks that double while no element ends (expat before 2.6 scans a pending
    token again at every feed: fixed-size feeds made a 32 MB attribute quadratic), and an
    element longer than ``max_line_mb`` is refused.
    """
    from xml.etree.ElementTree import ParseError, XMLPullParser

    tag = settings.get("element", "row")
    limit = settings.get("max_line_mb", 64) * MB
    parser = XMLPullParser(events=("start", "end"))
    number = 0
    root = None
    block = pending = 1 << 16
    try:
        while True:
            data = stream.read(block)
            if data:
                parser.feed(data)
            else:
                parser.close()
            ended = False
            for event, element in parser.read_events():
                if root is None:
                    root = element
                    continue
                if event == "end" and element.tag == tag:
                    number += 1
                    ended = True
                    yield number, dict(element.attrib)
                    element.clear()
                    root.clear()  # drop the finished rows, so the tree does not grow
            if not data:
                return
            if ended:
                block = pending = 1 << 16
            else:
                pending += len(data)
                if pending > limit:
                    raise LineTooLong("", None, limit, f"XML element (after record {number})")
                block = max(min(block * 2, 1 << 26, limit - pending), 1 << 16)
    except ParseError as error:
        line, column = error.position
        raise ReaderError(
            f"not well-formed XML at line {line}, column {column} (after record {number}): "
            f"{str(error).split(':')[0]}"
        ) from None


class CountingLines(io.TextIOBase):
    """A text stream that counts the lines a reader has taken (for its error messages)."""

    def __init__(self, stream):
        self.stream = stream
        self.line = 0

    def readable(self) -> bool:
        return True

    def readline(self, size: int = -1) -> str:
        text = self.stream.readline(size)
        self.line += text.endswith("\n")
        return text

    def __iter__(self):
        return self

    def __next__(self) -> str:
        text = self.readline()
        if not text:
            raise StopIteration
        return text

    def read(self, size: int = -1) -> str:
        text = self.stream.read(size)
        self.line += text.count("\n")
        return text


def load_reader(spec: str) -> Callable:
    """The function named ``"module:function"`` (a module of the project's package, usually)."""
    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        raise ReaderError(
            f"reader {spec!r}: write it as 'module:function', e.g. 'mypackage.readers:quotes'"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ReaderError(f"reader {spec!r}: cannot import {module_name} ({error})") from None
    found = getattr(module, function, None)
    if not callable(found):
        raise ReaderError(f"reader {spec!r}: {module_name} has no function {function!r}")
    return found


def user_rows(stream, settings: dict, spec: str) -> Iterator[tuple[int, dict | Rejected]]:
    """Records from a reader you wrote: dicts, or tuples named by the ``columns`` setting."""
    reader = load_reader(spec)
    text = CountingLines(
        io.TextIOWrapper(stream, encoding=settings.get("encoding", "utf-8"), newline=None)
    )
    columns = settings.get("columns")
    number = 0
    records = iter(reader(text))
    while True:
        try:
            record = next(records)
        except StopIteration:
            return
        except UnicodeDecodeError as error:
            raise ReaderError(
                f"line {text.line + 1}: byte {error.object[error.start : error.start + 1]!r} "
                f"is not valid {error.encoding}: set encoding in the table's settings"
            ) from None
        except Exception as error:
            raise ReaderError(
                f"reader {spec} raised {type(error).__name__} after record {number} "
                f"(line {text.line}): {error}"
            ) from None
        number += 1
        if isinstance(record, dict):
            yield number, {str(k): text_of(v) for k, v in record.items()}
        elif isinstance(record, tuple | list) and columns:
            if len(record) != len(columns):
                yield (
                    number,
                    Rejected(
                        number,
                        f"expected {len(columns)} values, found {len(record)}",
                        preview(repr(record)),
                    ),
                )
            else:
                yield number, {name: text_of(v) for name, v in zip(columns, record, strict=True)}
        else:
            raise ReaderError(
                f"reader {spec} yielded a {type(record).__name__} at record {number}: yield dicts, "
                "or tuples with columns = [...] in the table's settings"
            )


def kind_of(path: Path, relative: str, settings: dict, extension: str) -> tuple[str, str | None]:
    """``("csv" | "jsonl" | "xml" | "reader", reader spec)`` for a file, from settings and name."""
    if settings.get("reader"):
        return "reader", settings["reader"]
    for pattern, spec in settings.get("readers", {}).items():
        if fnmatch(relative, pattern) or fnmatch(path.name, pattern):
            return "reader", spec
    chosen = settings.get("format")
    if chosen:
        return ("jsonl" if chosen == "json" else chosen), None  # json: an array, or lines
    if extension in JSON_EXTENSIONS:
        return "jsonl", None
    if extension in XML_EXTENSIONS:
        return "xml", None
    return "csv", None


def chunks(kind: str, spec: str | None, stream, settings: dict) -> Iterator[Chunk]:
    """The records of a file in chunks, whatever its kind."""
    if kind == "jsonl":
        yield from json_lines(stream, settings)
        return
    if kind == "json":
        yield from json_array(stream, settings)
        return
    one_by_one = xml_rows(stream, settings) if kind == "xml" else user_rows(stream, settings, spec)
    chunk = Chunk([], [])
    for number, record in one_by_one:
        if isinstance(record, Rejected):
            chunk.rejected.append(record)
        else:
            chunk.numbers.append(number)
            chunk.records.append(record)
        if len(chunk.records) >= CHUNK:
            yield chunk
            chunk = Chunk([], [])
    yield chunk
