"""Raw files of records rather than rows: JSON Lines, XML row dumps, and readers you write.

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

import importlib
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fnmatch import fnmatch
from itertools import islice
from pathlib import Path

from .errors import ProjectError
from .rawfiles import Rejected, preview

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
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                f"{json.dumps(str(k), ensure_ascii=False)}:{_json(v)}" for k, v in value.items()
            )
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json(v) for v in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


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


def json_lines(stream, settings: dict) -> Iterator[Chunk]:
    """One JSON object per line; a line that is not one is a bad line (blank lines are skipped).

    Numbers are parsed as their text (so ``1.50`` and ``12345678901234567890`` stay exact);
    a line with nested values is parsed again so they become JSON text with their numbers.
    Values are text, None, or booleans (the loader turns those into 1 and 0). Lines are
    parsed ten thousand at a time in one call; a chunk with a bad line is parsed line by line.
    """
    fast = json.JSONDecoder(parse_float=str, parse_int=str).decode
    exact = json.JSONDecoder(parse_float=Decimal).decode
    flat = bool(settings.get("flatten", False))
    first = 1
    while batch := list(islice(stream, CHUNK)):
        numbers, texts, rejected = [], [], []
        for number, raw in enumerate(batch, start=first):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            try:
                texts.append(line.decode("utf-8"))
                numbers.append(number)
            except UnicodeDecodeError as error:
                bad = line[error.start : error.start + 1]
                reason = f"byte {bad!r} is not valid utf-8"
                rejected.append(Rejected(number, reason, line.decode("utf-8", "surrogateescape")))
        first += len(batch)
        try:
            records = fast("[" + ",".join(texts) + "]")
            if not all(type(r) is dict for r in records):
                raise ValueError("not all objects")
        except ValueError:  # JSONDecodeError too: find the bad lines one by one
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
        except json.JSONDecodeError as error:
            if number == 1 and text.lstrip().startswith("["):
                raise ReaderError(
                    "is one JSON array, not one object per line: split it, e.g. jq -c '.[]'"
                ) from None
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
        again = flatten(exact(text)) if flat else exact(text)
        for key in nested:
            record[key] = _json(again[key])


def xml_rows(stream, settings: dict) -> Iterator[tuple[int, dict | Rejected]]:
    """Each ``<row a="..." .../>`` element (the tag is the ``element`` setting) as its attributes.

    Elements are cleared as they go, so memory stays flat whatever the file's size. A file
    that is not well-formed XML stops here: the parser cannot resume after an error.
    """
    from xml.etree.ElementTree import ParseError, iterparse

    tag = settings.get("element", "row")
    number = 0
    root = None
    try:
        for event, element in iterparse(stream, events=("start", "end")):
            if root is None:
                root = element
                continue
            if event == "end" and element.tag == tag:
                number += 1
                yield number, dict(element.attrib)
                element.clear()
                root.clear()  # drop the finished rows, so the tree does not grow
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
        if chosen not in ("csv", "jsonl", "xml"):
            raise ReaderError(
                f"format = {chosen!r}: use csv, jsonl or xml, or set reader = 'module:function'"
            )
        return chosen, None
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
