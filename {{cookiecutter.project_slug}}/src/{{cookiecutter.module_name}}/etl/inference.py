"""Exact column types for text fields, decided over every row while the rows stream past.

A column starts with no type and moves up one way only: INTEGER -> REAL -> TEXT.
Each batch of a column is converted by the column's current state, in Arrow
(vectorised, no Python object per field):

- INTEGER holds a field only when it is the canonical decimal form of a 64-bit
  integer: ``str(int(field)) == field``. So ``007``, ``+5``, ``-0``, ``1e5``,
  ``0x10`` and `` 5`` are not integers, and ``007`` keeps its leading zeros.
- REAL holds a field only when it is a plain decimal number (an optional ``-``,
  digits without a leading zero, an optional fraction and exponent) that is a
  double written out: rounding the double to as many significant digits as the
  field has (at most 17) gives the field's number back. So ``1.50`` (1.5), ``1e5``,
  ``0.1`` and ``8.3945900000000009`` (a double printed with 17 digits) are REAL;
  ``1e400``, ``0.10000000000000000001``, ``inf``, ``nan``, ``+1`` and ``01.5`` are not.
  Integers in a REAL column must be at most 2**53 in magnitude.
- TEXT holds anything, exactly as written.

A field that is empty (by default) or equal to one of the table's
``null_markers`` is NULL. A column that would be numeric but for a word such
as ``NA`` loads as TEXT, and :attr:`Column.missing_words` says which words, so
the summary can tell the user to set ``null_markers``.

Dates and timestamps are TEXT (SQLite's convention: ISO 8601 text sorts and compares
right, and SQLite's date functions read it), and a TEXT column whose every value is one
ISO form is given a logical type, recorded in the manifest, that ``data.load`` turns into
``datetime64``: ``date`` (``2024-02-29``), ``timestamp`` (``2024-02-29 13:45``,
``2024-02-29T13:45:00.250``) or ``timestamptz`` (the same with ``Z`` or ``+01:00``). Each
value must be a real date (no ``2023-02-29``). A column in another format is read by
setting its format, ``dates = {when = "%d/%m/%Y"}``: its values are stored as ISO text,
and a value that does not match is a bad line.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

NULL, INTEGER, REAL, TEXT = 0, 1, 2, 3
TYPE_NAMES = {NULL: "TEXT", INTEGER: "INTEGER", REAL: "REAL", TEXT: "TEXT"}
TYPES_BY_NAME = {"INTEGER": INTEGER, "REAL": REAL, "TEXT": TEXT}
EXACT_IN_DOUBLE = 2**53
MISSING_WORDS = frozenset(
    [
        "NA",
        "N/A",
        "n/a",
        "na",
        "NaN",
        "nan",
        "NAN",
        "null",
        "NULL",
        "Null",
        "None",
        "none",
        "-",
        "--",
        ".",
        "?",
        "#N/A",
        "missing",
        "Missing",
        "MISSING",
        "nil",
        "NIL",
    ]
)
TEMPORAL = {  # logical type: (pattern of every value, the Arrow type that checks it is real)
    "date": (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", ("date32",)),
    "timestamp": (
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?$",
        ("timestamp", "us"),
    ),
    "timestamptz": (
        r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
        r"(Z|[+-][0-9]{2}:[0-9]{2})$",
        ("timestamp", "us", "UTC"),
    ),
}
TIME_DIRECTIVES = re.compile(r"%[HIMSfpXcTRr]")
REAL_SYNTAX = re.compile(r"-?(?:(?:0|[1-9][0-9]*)(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


class Restart(Exception):
    """Values already written for ``columns`` cannot be turned back into their text: load again
    with those columns TEXT from the start."""

    def __init__(self, columns: list[int]):
        self.columns = columns
        super().__init__(f"restart with columns {columns} as TEXT")


class Misfit(Exception):
    """A value does not fit a column whose type the settings fix."""


@dataclass
class Column:
    """One column's state while a table loads."""

    name: str
    source: str
    forced: int | None = None
    state: int = NULL
    max_abs: int = 0  # largest magnitude of the integers written so far
    written: int = 0  # non-NULL values written so far
    shadow: int = NULL  # the type the column would have without missing-value words
    missing_words: Counter = field(default_factory=Counter)
    temporal: str | None = "?"  # "?" (no value yet), a key of TEMPORAL, or None (not one)
    date_format: str | None = None  # the dates setting's strptime format for this column

    def __post_init__(self):
        if self.forced is not None:
            self.state = self.forced
        if self.forced == TEXT:
            self.shadow = TEXT

    @property
    def sql_type(self) -> str:
        return TYPE_NAMES[self.state]

    @property
    def logical(self) -> str | None:
        """``date``, ``timestamp`` or ``timestamptz`` when every value is one; else None."""
        if self.date_format is not None:
            return "timestamp" if TIME_DIRECTIVES.search(self.date_format) else "date"
        if self.state == TEXT and self.written and self.temporal in TEMPORAL:
            return self.temporal
        return None

    def hint(self) -> str | None:
        """Which missing-value words kept this otherwise numeric column TEXT, if any."""
        if self.state != TEXT or self.shadow not in (INTEGER, REAL) or not self.missing_words:
            return None
        return ", ".join(f"{w!r} ({n} rows)" for w, n in self.missing_words.most_common())


def _pa():
    import pyarrow as pa
    import pyarrow.compute as pc

    return pa, pc


def strings(values: list[str | None]):
    """An Arrow string array of ``values`` (text or None), built from its buffers.

    Not ``pa.array(values, pa.string())``: pyarrow imports pandas then (to ask whether
    ``values`` is a pandas object), a quarter of a second of every ``invoke etl``.

    >>> strings(["a", None, "é"]).to_pylist()
    ['a', None, 'é']
    """
    import numpy as np

    pa, _ = _pa()
    data = [b"" if value is None else value.encode() for value in values]
    offsets = np.zeros(len(data) + 1, np.int64)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    valid = np.array([value is not None for value in values], bool)
    nulls = len(values) - int(valid.sum())
    buffers = [
        pa.py_buffer(np.packbits(valid, bitorder="little")) if nulls else None,
        pa.py_buffer(offsets),
        pa.py_buffer(b"".join(data)),
    ]
    return pa.Array.from_buffers(pa.large_string(), len(values), buffers, nulls).cast(pa.string())


def _length(n: int):
    """``n`` as an Arrow int32 scalar, to compare with ``pc.binary_length``: a Python number
    there goes through ``pa.scalar``, which imports pandas as ``pa.array`` does."""
    import struct

    pa, _ = _pa()
    return pa.Array.from_buffers(pa.int32(), 1, [None, pa.py_buffer(struct.pack("<i", n))])[0]


def _parsed(values, kind: str):
    """``values`` cast to ``int64`` or ``float64`` by Arrow, or None if any does not parse."""
    pa, pc = _pa()
    try:
        return pc.cast(values, getattr(pa, kind)())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def as_integers(values):
    """``values`` (strings, NULLs) as int64, or None if any is not a canonical 64-bit integer."""
    _, pc = _pa()
    integers = _parsed(values, "int64")
    if integers is None:
        return None
    # Arrow also parses "007", "-0" and "0x1f": a canonical integer starts with no 0 but "0" itself.
    if pc.any(pc.starts_with(values, "-0")).as_py():
        return None
    if pc.any(
        pc.and_(pc.starts_with(values, "0"), pc.greater(pc.binary_length(values), _length(1)))
    ).as_py():
        return None
    return integers


def _exact_real(text: str) -> bool:
    """Whether ``text`` is a double written out: the double rounded to as many significant
    digits as ``text`` has (at most 17) gives ``text``'s number back, or the double is exactly it.

    >>> [_exact_real(t) for t in ["1.50", "8.3945900000000009", "0.10000000000000000001", "1e400"]]
    [True, True, False, False]
    """
    if not REAL_SYNTAX.fullmatch(text):
        return False
    number = float(text)
    if number != number or number in (float("inf"), float("-inf")):
        return False
    exact = Decimal(text)
    if "." not in text and "e" not in text.lower():
        return abs(int(text)) <= EXACT_IN_DOUBLE
    mantissa = text.lstrip("-").split("e")[0].split("E")[0].replace(".", "").lstrip("0")
    digits = max(len(mantissa), 1)
    if digits <= 17 and exact == Decimal(format(number, f".{digits}g")):
        return True
    return exact == Decimal(number)


def as_reals(values):
    """``values`` as float64, or None if any field is not a double written out (see above)."""
    pa, pc = _pa()
    reals = _parsed(values, "float64")
    if reals is None:
        return None
    if pc.all(pc.is_finite(reals)).as_py() is False:  # inf, nan and overflow stay text
        return None
    if pc.any(pc.match_substring_regex(values, r"^(\+|-?0[0-9])")).as_py():  # "+1", "01.5"
        return None
    # At most 15 significant digits and no exponent: the double gives the number back.
    lengths = pc.binary_length(values)
    hard = pc.or_(
        pc.greater(lengths, _length(15)), pc.match_substring(values, "e", ignore_case=True)
    )
    if not pc.any(hard).as_py():
        return reals
    texts, doubles = values.filter(hard), reals.filter(hard)
    printed = pc.cast(doubles, pa.string())
    same = pc.equal(printed, texts)
    if not pc.all(same).as_py():  # "2.50" prints as "2.5": compare without the zeros
        dotted = pc.match_substring(texts, ".")
        trimmed = pc.if_else(
            dotted, pc.utf8_rtrim(pc.utf8_rtrim(texts, characters="0"), characters="."), texts
        )
        same = pc.or_(same, pc.equal(printed, trimmed))
    rest = texts.filter(pc.invert(same)).to_pylist()
    if all(_exact_real(text) for text in rest):
        return reals
    return None


def null_mask(values, markers, empty_is_null: bool):
    pa, pc = _pa()
    mask = None
    if empty_is_null:
        mask = pc.equal(pc.binary_length(values), _length(0))
    if markers is not None:
        marked = pc.is_in(values, value_set=markers)
        mask = marked if mask is None else pc.or_(mask, marked)
    return mask


class Typer:
    """Converts batches of string columns to typed Arrow arrays, column states moving up."""

    def __init__(self, columns: list[Column], null_markers: list[str], empty_is_null: bool = True):
        self.columns = columns
        self.markers = strings(null_markers) if null_markers else None
        self.empty_is_null = empty_is_null
        self.missing = strings(sorted(MISSING_WORDS - set(null_markers)))

    def convert(self, arrays) -> tuple[list, list[tuple[int, int, int]]]:
        """Typed arrays for one batch, and ``(column, old state, new state)`` for each demotion.

        Raises :class:`Restart` when a column holding written REAL values must become TEXT
        and :class:`Misfit` when a value does not fit a type fixed by the settings (before any
        column's state has moved: the batch can be written again without the misfits).
        """
        pa, pc = _pa()
        converted = []  # (text values, typed values, new state) per column; state None: all NULL
        for index, (column, values) in enumerate(zip(self.columns, arrays, strict=True)):
            if values.type != pa.string():
                values = values.cast(pa.string())
            mask = null_mask(values, self.markers, self.empty_is_null)
            if mask is not None and pc.any(mask).as_py():
                values = pc.if_else(mask, pa.nulls(1, pa.string())[0], values)
            if values.null_count == len(values):
                converted.append((values, values, None))
                continue
            if column.date_format is not None:
                iso = as_iso(values, column.date_format)
                if iso is None:
                    raise Misfit(index)
                values = iso
            typed, state = self._convert(column, values)
            if column.forced is not None and state > column.forced:
                raise Misfit(index)
            converted.append((values, typed, state))
        # No Misfit past this point: only now do the columns' states move.
        out, demoted, restart = [], [], []
        for index, (column, (values, typed, state)) in enumerate(
            zip(self.columns, converted, strict=True)
        ):
            if state is None:
                out.append(typed)
                continue
            before = column.state
            if state == TEXT and before in (INTEGER, REAL):
                column.shadow = max(column.shadow, before)
            if state != before and column.written:
                if before == INTEGER and state == REAL and column.max_abs > EXACT_IN_DOUBLE:
                    typed, state = values, TEXT  # those integers would not survive as doubles
                if before == REAL:
                    restart.append(index)  # a double does not remember its text ("1.50")
                else:
                    demoted.append((index, before, state))
            if state == INTEGER:
                low, high = pc.min_max(typed).values()
                column.max_abs = max(column.max_abs, abs(low.as_py()), abs(high.as_py()))
            if state == TEXT and column.shadow != TEXT:
                self._track_missing_words(column, values)
            if state == TEXT and before in (INTEGER, REAL):
                column.temporal = None  # numbers written before are no dates
            elif state == TEXT and column.temporal is not None and column.forced is None:
                column.temporal = temporal_kind(values, column.temporal)
            column.state = state
            column.written += len(values) - values.null_count
            out.append(typed)
        if restart:
            raise Restart(restart)
        return out, demoted

    def _convert(self, column: Column, values):
        if column.state <= INTEGER:
            integers = as_integers(values)
            if integers is not None:
                return integers, INTEGER
        if column.state <= REAL:
            reals = as_reals(values)
            if reals is not None:
                return reals, REAL
        return values, TEXT

    def _track_missing_words(self, column: Column, values) -> None:
        """Keep counting the missing-value words of a column that is TEXT only because of them."""
        pa, pc = _pa()
        words = pc.is_in(values, value_set=self.missing)
        rest = values.filter(pc.invert(words))
        kind = column.shadow
        if rest.null_count < len(rest):
            if kind <= INTEGER and as_integers(rest) is not None:
                kind = INTEGER
            elif kind <= REAL and as_reals(rest) is not None:
                kind = REAL
            else:
                kind = TEXT
        column.shadow = kind
        if kind == TEXT:
            column.missing_words.clear()
            return
        found = values.filter(words)
        if len(found):
            for item in pc.value_counts(found).to_pylist():
                column.missing_words[item["values"]] += item["counts"]


def temporal_kind(values, current: str | None) -> str | None:
    """The one ISO form (a key of :data:`TEMPORAL`) every non-NULL value of ``values`` has and
    ``current`` allows ("?" allows any), or None.

    Cheap for the columns that are not dates: the first value is tried first. For a date
    column, Arrow's cast to ``date32`` is the whole check: it takes only ``YYYY-MM-DD`` with a
    real day, so ``2023-02-30`` and ``2023-2-1`` fail it.
    """
    pa, pc = _pa()
    if values.null_count:
        values = values.drop_null()
    if not len(values):
        return current
    first = values[0].as_py()
    for kind, (pattern, arrow) in TEMPORAL.items():
        if current not in ("?", kind) or not re.fullmatch(pattern, first):
            continue
        if kind != "date" and not pc.all(pc.match_substring_regex(values, pattern)).as_py():
            return None
        try:  # the pattern admits 2023-02-30 and 25:00; the cast refuses them
            pc.cast(values, getattr(pa, arrow[0])(*arrow[1:]))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        return kind
    return None


def iso_format(date_format: str) -> str:
    """The ISO form a ``dates`` format is stored in: a date, or a date and time."""
    return "%Y-%m-%dT%H:%M:%S" if TIME_DIRECTIVES.search(date_format) else "%Y-%m-%d"


def as_iso(values, date_format: str):
    """``values`` (strings, NULLs) in ``date_format`` as ISO text, or None if one does not match.

    Python's ``datetime.strptime`` decides what matches; Arrow converts the batch when it
    agrees (its own parser normalises ``31/02`` to ``02/03``, so it is checked both ways).
    """
    _, pc = _pa()
    iso = iso_format(date_format)
    parsed = pc.strptime(values, format=date_format, unit="s", error_is_null=True)
    if parsed.null_count == values.null_count and "%f" not in date_format:
        back = pc.strftime(parsed, format=date_format)
        if pc.all(pc.equal(back, values)).as_py() is not False:
            return pc.strftime(parsed, format=iso)
    texts = []
    for text in values.to_pylist():
        if text is None:
            texts.append(None)
            continue
        when = parse_date(text, date_format)
        if when is None:
            return None
        texts.append(when.strftime(iso))
    return strings(texts)


def parse_date(text: str, date_format: str) -> datetime | None:
    """``text`` read with ``date_format`` by Python's ``strptime``, or None if it does not match."""
    try:
        return datetime.strptime(text, date_format)
    except ValueError:
        return None


def fits(text: str, kind: int) -> bool:
    """Whether one field can be stored exactly as ``kind`` (the careful reader's per-row check)."""
    if kind == TEXT:
        return True
    if kind == INTEGER:
        return text == str(_int_or_none(text)) and -(2**63) <= int(text) < 2**63
    return _exact_real(text)


def _int_or_none(text: str):
    try:
        return int(text)
    except ValueError:
        return None
