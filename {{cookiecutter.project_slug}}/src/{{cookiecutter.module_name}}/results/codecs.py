"""The payload formats of the results store: pickle, MATLAB ``.mat`` (with sparse), ``.npz``,
JSON and Parquet, each written to an open file and read back from a path.

:func:`write` writes all of a result or raises; :func:`problems` says which names of a
dict result a format cannot hold and why, so that the store can save the others
(a partial save) and record what it left out.

>>> problems({"k": 3, "gen": (i for i in range(3))}, "pickle")
{'gen': "TypeError: cannot pickle 'generator' object"}
>>> problems({"1x": 1.0, "ok": 2.0}, "mat")
{'1x': "not a MATLAB variable name (a letter, then up to 62 letters, digits or '_'): rename it"}
"""

from __future__ import annotations

import io
import json
import os
import pickle
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ProjectError

# Format name -> the payload's suffix. A JSON payload is ``.data.json`` because
# ``<experiment>.N.json`` is the run record.
FORMATS = {
    "pickle": ".pkl",
    "mat": ".mat",
    "npz": ".npz",
    "json": ".data.json",
    "parquet": ".parquet",
}
ALIASES = {"pkl": "pickle"}
MATLAB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")


class CodecError(ProjectError):
    """Data that a format cannot hold as a whole (wrong kind of object)."""


def format_of(format: str) -> str:
    """The format's canonical name (``"pkl"`` is ``"pickle"``); an unknown one is refused."""
    name = ALIASES.get(format, format)
    if name not in FORMATS:
        raise CodecError(f"unknown format {format!r}: use one of {', '.join(FORMATS)}")
    return name


def _check_kind(data: Any, format: str) -> None:
    if format == "mat" and not isinstance(data, Mapping):
        raise CodecError(
            f"format 'mat' needs a dict of named arrays (MATLAB variables), "
            f"not {type(data).__name__}"
        )
    if format == "parquet":
        import pandas as pd

        if not isinstance(data, pd.DataFrame):
            raise CodecError(
                f"format 'parquet' needs a pandas DataFrame, not {type(data).__name__}"
            )


def write(handle, data: Any, format: str) -> None:
    """Write all of ``data`` to the binary file ``handle`` as ``format``, or raise."""
    _check_kind(data, format)
    if format == "pickle":
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)
    elif format == "mat":
        import scipy.io

        bad = [name for name in data if not _matlab_name(name)]
        if bad:
            raise CodecError(f"{bad[0]!r} is {_MATLAB_REASON}")
        scipy.io.savemat(handle, dict(data), long_field_names=True, do_compression=False)
    elif format == "npz":
        import numpy as np

        arrays = dict(data) if isinstance(data, Mapping) else {"arr_0": data}
        converted = {str(k): np.asarray(v) for k, v in arrays.items()}
        objects = [name for name, array in converted.items() if array.dtype.hasobject]
        if objects:
            raise CodecError(f"{objects[0]!r} {_NPZ_REASON}")
        np.savez(handle, **converted)
    elif format == "json":
        handle.write(json.dumps(data, allow_nan=False, default=_json_default).encode())
    else:
        data.to_parquet(handle)


_MATLAB_REASON = (
    "not a MATLAB variable name (a letter, then up to 62 letters, digits or '_'): rename it"
)
_NPZ_REASON = "holds Python objects, which .npz stores only as pickle: use format 'pickle'"


def _matlab_name(name) -> bool:
    return isinstance(name, str) and MATLAB_NAME.fullmatch(name) is not None


def problems(data: Mapping, format: str) -> dict[str, str]:
    """The names of the dict ``data`` that ``format`` cannot hold -> why, one short line each."""
    found = {}
    for name, value in data.items():
        if format == "mat" and not _matlab_name(name):
            found[str(name)] = _MATLAB_REASON
            continue
        try:
            write(io.BytesIO(), {name: value}, format)
        except CodecError as error:
            found[str(name)] = str(error).removeprefix(f"{str(name)!r} ")
        except Exception as error:
            found[str(name)] = reason(error)
    return found


def reason(error: BaseException) -> str:
    """``TypeError: first line of the message``."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def read(path: Path, format: str) -> Any:
    """The data of the payload file ``path`` written as ``format``."""
    if format == "pickle":
        with open(path, "rb") as handle:
            return pickle.load(handle)
    if format == "mat":
        import scipy.io

        loaded = scipy.io.loadmat(path)
        return {k: v for k, v in loaded.items() if not (k.startswith("__") and k.endswith("__"))}
    if format == "npz":
        import numpy as np

        with np.load(path, allow_pickle=False) as arrays:
            return dict(arrays)
    if format == "json":
        return json.loads(path.read_bytes())
    import pandas as pd

    return pd.read_parquet(path)


def jsonable(value: Any) -> Any:
    """``value`` as JSON data: numpy scalars and arrays, paths and sets become plain values."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value  # NaN and infinities are written as JSON's common extension NaN, Infinity
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):  # numpy scalars and arrays
        return jsonable(value.tolist())
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)
