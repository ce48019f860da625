"""One schema for every ``[tool.<package>.*]`` table of ``pyproject.toml``, checked in one place.

Each step's settings are a pydantic model here (``Etl``, ``Sweep``, ``Figures``,
``Workflow``, ...); :func:`read` validates one table against its model and turns the
first problem into one :class:`SettingsError` line naming the table, the key, the
value and the fix. Modules ask this module for their settings and never validate
``pyproject.toml`` by hand.

>>> class Demo(Section):
...     jobs: PositiveInt = 1
>>> validate({"jobs": 4}, Demo, "demo").jobs
4
>>> def problem(values):
...     try:
...         validate(values, Demo, "demo")
...     except SettingsError as error:
...         return str(error).replace(paths.PACKAGE, "<package>")
>>> problem({"jobs": 0})
'jobs = 0 in [tool.<package>.demo] of pyproject.toml: Input should be greater than 0'
>>> problem({"job": 4})
'job = 4 in [tool.<package>.demo] of pyproject.toml: unknown setting; the settings are: jobs'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import paths
from .errors import ProjectError

__all__ = [
    "Section",
    "SettingsError",
    "PositiveInt",
    "PositiveFloat",
    "read",
    "validate",
    "where",
]


class SettingsError(ProjectError):
    """A value in ``pyproject.toml`` is wrong: the message names table, key, value and fix."""


class Section(BaseModel):
    """A table of settings: unknown keys are refused, values are not coerced across kinds."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]

Model = TypeVar("Model", bound=Section)


def where(table: str) -> str:
    """The name of ``table`` as a user finds it: ``[tool.<package>.<table>] of pyproject.toml``."""
    return f"[tool.{paths.PACKAGE}.{table}] of pyproject.toml"


def read(table: str, model: type[Model]) -> Model:
    """The settings of ``[tool.<package>.<table>]`` (dots for sub-tables), checked by ``model``."""
    values: Any = paths.config()
    for part in table.split("."):
        values = values.get(part, {}) if isinstance(values, dict) else values
    if not isinstance(values, dict):
        raise SettingsError(f"{where(table)} is {values!r}: make it a table of settings")
    return validate(values, model, table)


def validate(values: dict, model: type[Model], table: str) -> Model:
    """``values`` checked by ``model``; the first problem is one :class:`SettingsError` line."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise SettingsError(_first_problem(error, model, values, table)) from None


def _first_problem(error: ValidationError, model: type[Section], values: dict, table: str) -> str:
    problem = error.errors(include_url=False)[0]
    location = [str(part) for part in problem["loc"]]
    key = ".".join(location) or "(the table)"
    value = problem.get("input")
    if problem["type"] == "extra_forbidden":
        known = ", ".join(sorted(_known_keys(model, location[:-1])))
        fix = f"unknown setting; the settings are: {known}"
    else:
        fix = problem["msg"]
    return f"{key} = {value!r} in {where(table)}: {fix}"


def _known_keys(model: type[BaseModel], path: list[str]) -> list[str]:
    """The keys a (nested) model accepts, by their names in the TOML."""
    for part in path:
        field = model.model_fields.get(part)
        annotation = getattr(field, "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
        else:
            return []
    return [field.alias or name for name, field in model.model_fields.items()]


# ---- figures (figures.py, figure_build.py): [tool.<package>.figures] --------------------------


class Figures(Section):
    """Paper figures: text widths in inches, file formats, the preview, EPS and the build."""

    # IEEE: 3.5 and 7.16; ACM: 3.33 and 7.0; Springer LNCS: 4.8 both.
    single_width: PositiveFloat = 3.5
    double_width: PositiveFloat = 7.16
    formats: list[Literal["pdf", "eps"]] = ["pdf", "eps"]
    # Resolution of the PNG preview on the overview sheet (0: no preview).
    preview_dpi: Annotated[int, Field(ge=0)] = 150
    # EPS has no transparency. "rasterize": parts that would look different become an image
    # at eps_dpi; "warn": they are drawn opaque, with a warning naming them.
    eps_transparency: Literal["rasterize", "warn"] = "rasterize"
    eps_dpi: PositiveInt = 300
    # Seconds a figure source may run under `invoke figures`.
    timeout: PositiveFloat = 1800.0
