"""What a value is, from cheap attributes only: type, dtype, shape, bytes, a short preview.

Never the value's ``repr`` or ``str`` (those only for scalars and short strings), never
a walk through its elements. Attributes that run Python code of an unknown class (a
``shape`` property of a lazy or remote object) are read under a time budget: past it
the row shows no shape, the listing goes on, and that class is not asked again.

>>> summarize(3).preview, summarize("penguins").shape, summarize([1, 2]).shallow
('3', (8,), True)
"""

from __future__ import annotations

import datetime
import inspect
import sys
import threading
import types
import weakref
from dataclasses import dataclass
from pathlib import PurePath

PREVIEW_CHARS = 40
# Seconds an attribute written in Python may take before the listing gives up on it.
ATTRIBUTE_BUDGET = 0.02
# Libraries whose `shape`, `dtype` and `nbytes` are known to be cheap to read.
TRUSTED_LIBRARIES = frozenset(
    {"numpy", "pandas", "scipy", "xarray", "dask", "torch", "polars", "pyarrow", "jax"}
)
# Classes whose attributes overran the budget once: never read again in this process.
_slow_classes: weakref.WeakSet[type] = weakref.WeakSet()


@dataclass(frozen=True, slots=True)
class Summary:
    """What a listing shows of a value; computed without looking at its elements."""

    type: str
    dtype: str | None = None
    shape: tuple | None = None
    bytes: int | None = None
    shallow: bool = False  # ``bytes`` leaves out the objects the value refers to
    preview: str | None = None
    slow: bool = False  # an attribute took longer than ATTRIBUTE_BUDGET: left out

    def __str__(self) -> str:
        """One short phrase: ``int 4``, ``ndarray float64 333×4 (10.4 KiB)``."""
        words = [self.type] + ([self.dtype] if self.dtype else [])
        if self.preview is not None:
            return " ".join([*words, self.preview])
        if self.shape is not None:
            words.append(format_shape(self.shape))
        if self.bytes is not None:
            words.append(f"({format_bytes(self.bytes, self.shallow)})")
        return " ".join(words)


def summarize(value) -> Summary:
    """Type, dtype, shape (or length), bytes and, for scalars and short strings, the value.

    >>> str(summarize(12.5)), str(summarize((1, 2)))
    ('float 12.5', 'tuple 2 (56 B+)')
    """
    kind = type(value)
    name = kind.__name__
    numpy = sys.modules.get("numpy")
    try:
        if numpy is not None and isinstance(value, numpy.generic):
            return _numpy_scalar_summary(value, numpy, name)
        if isinstance(value, bool | int | float | complex) or value is None:
            return Summary(name, bytes=sys.getsizeof(value), preview=_scalar_preview(value))
        if isinstance(value, str | bytes | bytearray):
            short = len(value) <= PREVIEW_CHARS
            return Summary(
                name,
                shape=(len(value),),
                bytes=sys.getsizeof(value),
                preview=repr(value) if short else None,
            )
        if isinstance(value, list | tuple | dict | set | frozenset) or name == "deque":
            return Summary(
                name, shape=(len(value),), bytes=sys.getsizeof(value), shallow=len(value) > 0
            )
        if kind.__module__.partition(".")[0] == "pandas" and hasattr(kind, "memory_usage"):
            return _pandas_summary(value, name)
        return _array_like_summary(value, kind, name)
    except Exception:  # a value whose attributes fail still gets a row
        return Summary(name)


def _scalar_preview(value) -> str | None:
    if isinstance(value, bool) or value is None:
        return repr(value if value is None else bool(value))
    if isinstance(value, int):
        # repr of a huge int is quadratic; past ~60 digits it is no preview anyway
        return repr(int(value)) if value.bit_length() <= 200 else None
    return repr(float(value) if isinstance(value, float) else complex(value))


def _numpy_scalar_summary(value, numpy, name: str) -> Summary:
    wanted = numpy.number | numpy.bool_ | numpy.datetime64 | numpy.timedelta64
    text = str(value) if isinstance(value, wanted) else None
    if text is None and isinstance(value, str | bytes) and len(value) <= PREVIEW_CHARS:
        text = repr(value.item())
    return Summary(name, dtype=str(value.dtype), bytes=int(value.nbytes), preview=text)


def _pandas_summary(value, name: str) -> Summary:
    used = value.memory_usage(index=True, deep=False)
    size = int(used.sum()) if hasattr(used, "sum") else int(used)
    if hasattr(value, "dtypes") and not hasattr(value, "dtype"):  # a DataFrame
        return Summary(
            name,
            shape=tuple(value.shape),
            bytes=size,
            shallow=any(map(_holds_references, value.dtypes)),
        )
    dtype = value.dtype
    return Summary(
        name,
        dtype=str(dtype),
        shape=tuple(value.shape),
        bytes=size,
        shallow=_holds_references(dtype),
    )


def _holds_references(dtype) -> bool:
    """Whether a column of this dtype holds pointers to Python objects (not counted)."""
    return bool(getattr(dtype, "hasobject", False)) or getattr(dtype, "storage", None) == "python"


_MISSING = object()
_SLOW = object()


def read_attribute(value, name: str, budget: float = ATTRIBUTE_BUDGET):
    """``value.<name>`` if the value's class declares it, else None; never stalls the caller.

    Looked up on the class first, so an instance's ``__getattr__`` (a proxy, a lazy
    frame) is never asked for what it does not declare. An attribute implemented in C,
    or by a library known to be cheap, is read directly; one written in Python runs in
    a helper thread for at most ``budget`` seconds. Returns ``_SLOW`` past the budget
    (and the class is not read again) and None when the read fails.
    """
    kind = type(value)
    found = inspect.getattr_static(kind, name, _MISSING)
    if found is _MISSING:
        return None
    if kind in _slow_classes:
        return _SLOW
    if _is_cheap(found, kind):
        try:
            return getattr(value, name)
        except Exception:
            return None
    box: list = []

    def read() -> None:
        try:
            box.append(getattr(value, name))
        except BaseException:  # the helper thread must never print a traceback
            pass

    helper = threading.Thread(target=read, name=f"workspace-read-{name}", daemon=True)
    helper.start()
    helper.join(budget)
    if helper.is_alive():
        _slow_classes.add(kind)
        return _SLOW
    return box[0] if box else None


def _is_cheap(attribute, kind: type) -> bool:
    if isinstance(attribute, types.GetSetDescriptorType | types.MemberDescriptorType):
        return True  # a slot or a getter written in C
    if not hasattr(type(attribute), "__get__"):
        return True  # a plain class attribute
    return kind.__module__.partition(".")[0] in TRUSTED_LIBRARIES


def _array_like_summary(value, kind: type, name: str) -> Summary:
    shape = read_attribute(value, "shape")
    dtype = read_attribute(value, "dtype") if shape is not _SLOW else _SLOW
    nbytes = read_attribute(value, "nbytes") if dtype is not _SLOW else _SLOW
    slow = _SLOW in (shape, dtype, nbytes)
    shape, dtype, nbytes = (None if x is _SLOW else x for x in (shape, dtype, nbytes))
    if isinstance(nbytes, int) or type(nbytes).__name__.startswith(("int", "uint")):
        size, shallow = int(nbytes), bool(getattr(dtype, "hasobject", False))
    else:
        size, shallow = _own_size(value, kind), not isinstance(value, types.ModuleType)
    preview = None
    if isinstance(value, PurePath | datetime.date | datetime.time | datetime.timedelta):
        text = str(value)
        preview, shallow = (text if len(text) <= 2 * PREVIEW_CHARS else None), False
    return Summary(
        name,
        dtype=_dtype_text(dtype),
        shape=_int_tuple(shape),
        bytes=size,
        shallow=shallow,
        preview=preview,
        slow=slow,
    )


def _dtype_text(dtype) -> str | None:
    if dtype is None:
        return None
    if isinstance(dtype, str):
        return dtype[:PREVIEW_CHARS]
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(dtype, numpy.dtype):
        return str(dtype)
    return type(dtype).__name__  # the str of an unknown dtype object may do anything


def _own_size(value, kind: type) -> int:
    # A __sizeof__ written in Python may do anything (pandas' walks every string of a
    # frame): such a class gets the size of the object itself, as object.__sizeof__ gives.
    if isinstance(getattr(kind, "__sizeof__", None), types.FunctionType):
        return object.__sizeof__(value)
    return sys.getsizeof(value)


def _int_tuple(shape) -> tuple | None:
    if isinstance(shape, tuple) and all(isinstance(d, int) for d in shape):
        return shape
    return None


def format_shape(shape: tuple) -> str:
    """``10000000×3`` for a table, ``333`` for a length.

    >>> format_shape((344, 8)), format_shape((3,)), format_shape(())
    ('344×8', '3', '()')
    """
    return "×".join(map(str, shape)) if shape else "()"


def format_bytes(size: int, shallow: bool = False) -> str:
    """Binary units, a ``+`` when the objects a container refers to are not counted.

    >>> format_bytes(512), format_bytes(2 * 1024**3), format_bytes(80_000_056, shallow=True)
    ('512 B', '2.0 GiB', '76.3 MiB+')
    """
    amount, unit = float(size), "B"
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if amount < 1024:
            break
        amount, unit = amount / 1024, bigger
    text = f"{int(amount)} B" if unit == "B" else f"{amount:.1f} {unit}"
    return text + ("+" if shallow else "")
