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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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
    "Sweep",
    "SlurmProfile",
    "Columnar",
    "ColumnarTable",
    "Etl",
    "EtlTable",
    "Figures",
]


class SettingsError(ProjectError):
    """A value in ``pyproject.toml`` is wrong: the message names table, key, value and fix."""


class Section(BaseModel):
    """A table of settings: unknown keys are refused, values are not coerced across kinds."""

    # defer_build: a model's validator is built when first used, so importing this module
    # (every task does) does not pay for the tables that task never reads.
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, populate_by_name=True, defer_build=True
    )


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


# ---- sweep: [tool.<package>.sweep] and its SLURM profiles (invoke sweep) -----------------------


class SlurmProfile(Section):
    """``[tool.<package>.sweep.slurm.<name>]``: how dask-jobqueue submits the workers' jobs.

    ``jobs`` is how many SLURM jobs (one Dask worker each) to submit; every other key
    is an argument of ``dask_jobqueue.SLURMCluster``. The common ones are checked
    here; any other is passed on as written (SLURMCluster refuses unknown ones).
    """

    model_config = ConfigDict(extra="allow", strict=True, frozen=True, defer_build=True)

    jobs: PositiveInt = 1
    cores: PositiveInt | None = None
    memory: str | None = None
    walltime: str | None = None
    queue: str | None = None  # the partition (sbatch -p)
    account: str | None = None
    python: str | None = None  # the Python that runs the worker (default: this one)
    job_script_prologue: list[str] | None = None  # e.g. ["module load python"]
    job_extra_directives: list[str] | None = None  # e.g. ["--exclusive"]
    log_directory: str | None = None

    def cluster_options(self) -> dict:
        """The keyword arguments of ``SLURMCluster``: every key given but ``jobs``."""
        given = self.model_dump(exclude_unset=True, exclude={"jobs"})
        return {**given, **(self.model_extra or {})}


class Sweep(Section):
    """``[tool.<package>.sweep]``: where and how wide ``invoke sweep`` runs."""

    jobs: PositiveInt | None = None  # runs at once on this machine (default: one per core)
    scheduler: str | None = None  # a Dask scheduler to use by default ("local": this machine)
    connect_timeout: PositiveFloat = 5.0  # seconds for a scheduler to answer
    threads_per_run: PositiveInt = 1  # OMP/MKL/OpenBLAS threads per run
    batch_size: PositiveInt | None = None  # runs per Dask task (default: from the sweep's size)
    slurm: dict[str, SlurmProfile] = Field(default_factory=dict)


# ---- columnar copies (data.load, data.dask) ------------------------------------------------------


class ColumnarTable(Section):
    """``[tool.<package>.columnar.tables.<table>]``: one table's copy."""

    enabled: bool = True


class Columnar(Section):
    """``[tool.<package>.columnar]``: the Arrow IPC copies ``data.load`` reads instead of SQLite."""

    enabled: bool = True
    rows_per_file: PositiveInt = 1_048_576  # one part file, one partition of data.dask
    tables: dict[str, ColumnarTable] = Field(default_factory=dict)


# ---- ETL: [tool.<package>.etl] and [tool.<package>.etl.tables.<table>] -------------

Char = Annotated[str, Field(min_length=1, max_length=1)]
DATA_EXTENSIONS = [".csv", ".tsv", ".tab", ".psv", ".jsonl", ".ndjson", ".json", ".xml"]


class EtlFile(Section):
    """How to read a table's files: the settings a default may set for every table."""

    delimiter: Char | None = None  # default: from the extension, checked against the header
    encoding: str = "utf-8"
    quote: Char = '"'
    header: bool = True
    null_markers: list[str] = []
    empty_is_null: bool = True
    skip_rows: Annotated[int, Field(ge=0)] = 0
    format: Literal["csv", "jsonl", "json", "xml"] | None = None
    element: str = "row"
    flatten: bool = False
    reader: str | None = None
    max_line_mb: PositiveInt = 64

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        import codecs

        from pydantic_core import PydanticCustomError

        try:
            codecs.lookup(value)
        except LookupError:
            raise PydanticCustomError(
                "encoding",
                'not a known encoding: use a Python codec name such as "utf-8" or "latin-1"',
            ) from None
        return value


class EtlTable(EtlFile):
    """``[tool.<package>.etl.tables.<table>]``: one table's settings, over the defaults."""

    columns: list[str] | None = None
    types: dict[str, Literal["INTEGER", "REAL", "TEXT"]] = {}
    dates: dict[str, str] = {}
    index: list[str | list[str]] = []

    @field_validator("types", mode="before")
    @classmethod
    def _upper_case_types(cls, value):
        if isinstance(value, dict):
            return {k: v.upper() if isinstance(v, str) else v for k, v in value.items()}
        return value


class Etl(EtlFile):
    """``[tool.<package>.etl]``: defaults for every table, and the run's own settings."""

    extensions: list[str] = DATA_EXTENSIONS
    readers: dict[str, str] = {}
    wait_seconds: Annotated[float, Field(ge=0, strict=False)] = 60.0
    tables: dict[str, dict] = {}  # each checked by EtlTable when its table loads


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
