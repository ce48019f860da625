"""What a sweep will run: the script's options, the grid (with ranges), settings files, the plan.

>>> parse_grid("k=2,3 seed=1")
{'k': ['2', '3'], 'seed': ['1']}
>>> parse_grid("k=2..4 lr=0.1:0.3:0.1")
{'k': ['2', '3', '4'], 'lr': ['0.1', '0.2', '0.3']}
>>> [s for s in combine(parse_grid("k=2,3 seed=1,2"))][:2]
[{'k': '2', 'seed': '1'}, {'k': '2', 'seed': '2'}]

Nothing here runs the script (except ``python SCRIPT --help`` when its options are
built at run time) or schedules anything: a plan is checked before any run starts.
``--resume`` (``plan(..., resume=True)``) skips settings whose complete results
(same arguments, same script by :func:`provenance.script_hash`) are already saved.
"""

from __future__ import annotations

import ast
import csv
import itertools
import json
import math
import numbers
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from .. import paths, provenance, results
from . import SweepError

# Actions whose options take no value on the command line.
FLAG_ACTIONS = {"store_true", "store_false", "store_const", "append_const", "count"}
TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}
# The argparse types whose values are checked before a sweep starts.
CONVERTERS = {"int": int, "float": float}
# A range expands to at most this many values (a typo in the step must not plan millions).
MAX_RANGE = 100_000


UNKNOWN = "<unknown>"  # the default of an option read from --help or computed at run time


@dataclass(frozen=True)
class Option:
    """A long option of the script: ``--k`` stores into ``k`` and takes a value."""

    flag: str
    dest: str
    takes_value: bool = True
    negation: str | None = None  # "--no-x" of a BooleanOptionalAction
    default: object = UNKNOWN
    kind: str | None = None  # "int" or "float" when the source says type=int / type=float


def script_options(script: Path, timeout: float = 60) -> dict[str, Option]:
    """The script's long options by ``dest``, read from its argparse calls.

    The calls are read without running the script when every ``add_argument``
    names its options literally; otherwise ``python SCRIPT --help`` runs in a
    subprocess (with ``timeout``) and its usage text is read.
    """
    source = Path(script).read_text(encoding="utf-8")
    try:
        tree = ast.parse(source, filename=str(script))
    except SyntaxError as error:
        raise SweepError(
            f"{script}:{error.lineno}: not valid Python ({error.msg}): fix the script first"
        ) from None
    options = _options_from_source(tree)
    return options if options is not None else _options_from_help(Path(script), timeout)


def _options_from_source(tree: ast.AST) -> dict[str, Option] | None:
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "add_argument"
    ]
    if not calls:
        return None
    options = {}
    for call in calls:
        if not all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in call.args):
            return None  # options built at run time: ask the script itself
        names = [a.value for a in call.args]
        longs = [n for n in names if n.startswith("--")]
        if not longs or "--help" in longs:
            continue
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        action = keywords.get("action")
        action_name = (
            action.value
            if isinstance(action, ast.Constant)
            else getattr(action, "attr", getattr(action, "id", None))
        )
        nargs = keywords.get("nargs")
        takes_value = action_name not in FLAG_ACTIONS | {"BooleanOptionalAction"} and not (
            isinstance(nargs, ast.Constant) and nargs.value == 0
        )
        dest = keywords.get("dest")
        dest = dest.value if isinstance(dest, ast.Constant) else longs[0][2:].replace("-", "_")
        negation = "--no-" + longs[0][2:] if action_name == "BooleanOptionalAction" else None
        kind = keywords.get("type")
        kind = kind.id if isinstance(kind, ast.Name) and kind.id in CONVERTERS else None
        options[dest] = Option(
            longs[0], dest, takes_value, negation, _default(keywords, action_name), kind
        )
    return options


def _default(keywords: dict, action: str | None):
    """An option's default when the source says it literally (argparse's own if not given)."""
    if "default" not in keywords:
        return {"store_true": False, "store_false": True}.get(action)
    try:
        return ast.literal_eval(keywords["default"])
    except ValueError:  # computed, e.g. default=os.cpu_count()
        return UNKNOWN


def _options_from_help(script: Path, timeout: float) -> dict[str, Option]:
    try:
        done = subprocess.run(
            [sys.executable, str(script), "--help"],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=paths.find_root(),
            env={**os.environ, "PROJECT_ROOT": str(paths.find_root())},
        )
    except subprocess.TimeoutExpired:
        raise SweepError(
            f"python {script} --help did not answer within {timeout:.0f} s: make the script parse "
            "its arguments before any slow work"
        ) from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SweepError(f"python {script} --help failed ({last}): fix the script first")
    options = {}
    for line in done.stdout.splitlines():
        if not line.startswith("  -"):
            continue
        invocation = re.split(r"\s{2,}", line.strip())[0]
        parts = [p.split() for p in invocation.split(", ")]
        longs = [p for p in parts if p[0].startswith("--") and p[0] != "--help"]
        if not longs:
            continue
        first = longs[0]
        negation = next((p[0] for p in longs[1:] if p[0] == "--no-" + first[0][2:]), None)
        dest = first[0][2:].replace("-", "_")
        options[dest] = Option(first[0], dest, len(first) > 1, negation)
    if not options:
        raise SweepError(f"python {script} --help lists no --options: is it an argparse script?")
    return options


def _option_for(name: str, options: dict[str, Option]) -> Option | None:
    key = name.lstrip("-").replace("-", "_")
    if key in options:
        return options[key]
    return next((o for o in options.values() if o.flag[2:].replace("-", "_") == key), None)


# ---- settings -----------------------------------------------------------------------------------


def parse_grid(text: str) -> dict[str, list[str]]:
    """``"k=2,3,4 seed=1,2"`` -> ``{"k": ["2", "3", "4"], "seed": ["1", "2"]}``.

    Names are separated by spaces, values by commas; quote a value with spaces
    (``label='a b',c``). A value may be a range (see :func:`expand_range`):
    ``k=2..6`` or ``lr=0.1:1:0.1``. Lists and other structured values go in a
    settings file.
    """
    example = 'e.g. --grid "k=2,3,4 seed=1,2"'
    try:
        tokens = shlex.split(text)
    except ValueError as error:
        raise SweepError(f"--grid {text!r}: {error}: {example}") from None
    grid: dict[str, list[str]] = {}
    for token in tokens:
        name, equals, values = token.partition("=")
        if not equals or not re.fullmatch(r"(--)?[A-Za-z_][\w-]*", name):
            raise SweepError(f"--grid: {token!r} is not NAME=VALUE,VALUE,...: {example}")
        items = values.split(",")
        if "" in items:
            raise SweepError(f"--grid: {token!r} has an empty value: {example}")
        items = [value for item in items for value in expand_range(item, name)]
        if name in grid:
            raise SweepError(f"--grid: {name!r} is given twice: list all its values once")
        grid[name] = items
    if not grid:
        raise SweepError(f"--grid {text!r} names no parameter: {example}")
    return grid


INTEGER_RANGE = re.compile(r"([+-]?\d+)\.\.([+-]?\d+)")
NUMBER = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
STEP_RANGE = re.compile(rf"({NUMBER}):({NUMBER}):({NUMBER})")


def expand_range(item: str, name: str = "x") -> list[str]:
    """The values of one grid item: ``FIRST..LAST`` (whole numbers, both included) or
    ``START:STOP:STEP`` (numbers; STOP included when a step lands on it), else the item itself.

    Values are computed in decimal and written without trailing zeros, so
    ``0.1:0.3:0.1`` gives ``0.1, 0.2, 0.3`` (not ``0.30000000000000004``). ``name``
    names the parameter in errors. Text with colons between numbers (``10:30``) is
    taken for a range written wrong: put such values in a settings file.

    >>> expand_range("2..5")
    ['2', '3', '4', '5']
    >>> expand_range("1:0:-0.25")
    ['1', '0.75', '0.5', '0.25', '0']
    >>> expand_range("data/x.csv")
    ['data/x.csv']
    """
    whole = INTEGER_RANGE.fullmatch(item)
    stepped = STEP_RANGE.fullmatch(item)
    if whole:
        start, stop, step = Decimal(whole[1]), Decimal(whole[2]), Decimal(1)
        step = step if stop >= start else -step
    elif stepped:
        start, stop, step = (Decimal(part) for part in stepped.groups())
        if step == 0 or (stop - start) * step < 0:
            raise SweepError(
                f"--grid: {name}={item} is START:STOP:STEP with a step of {stepped[3]}, which "
                f"never goes from {stepped[1]} to {stepped[2]}: e.g. {name}=0.1:1:0.1"
            )
    elif (".." in item and re.match(r"[+-]?\d", item)) or (":" in item and _numeric_parts(item)):
        raise SweepError(
            f"--grid: {name}={item} is not a range: write FIRST..LAST of whole numbers "
            f"({name}=2..6) or START:STOP:STEP ({name}=0.1:1:0.1)"
        )
    else:
        return [item]
    count = int((stop - start) / step + Decimal("1e-9")) + 1  # STOP within rounding
    if count > MAX_RANGE:
        raise SweepError(
            f"--grid: {name}={item} has {count:,} values (at most {MAX_RANGE:,}): check the range"
        )
    return [_plain(start + i * step) for i in range(count)]


def _plain(value: Decimal) -> str:
    """``Decimal("0.50")`` -> ``"0.5"``, ``Decimal("1E+1")`` -> ``"10"``: no exponent, no noise."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _numeric_parts(item: str) -> bool:
    """True for ``1:2`` or ``0.1:1:0.1:2``: colons between numbers, a range written wrong."""
    parts = item.split(":")
    return all(re.fullmatch(NUMBER, part) for part in parts if part) and any(parts)


def combine(grid: dict[str, list], rows: list[dict] | None = None) -> list[dict]:
    """Every combination of the grid's values, for each row of a settings file (if any)."""
    product = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    if rows is None:
        return product
    settings = []
    for row in rows:
        for values in product:
            both = set(row) & set(values)
            if both:
                raise SweepError(
                    f"{', '.join(sorted(both))} is set by both --grid and --settings: keep one"
                )
            settings.append({**row, **values})
    return settings


def read_settings(path: str | os.PathLike) -> list[dict]:
    """One setting per row of a CSV file (empty cells keep the default), per object of a JSON
    list, or per ``[[run]]`` table of a TOML file."""
    file = Path(path)
    if not file.is_file():
        raise SweepError(f"settings file {str(path)!r} does not exist: give a .csv, .json or .toml")
    kind = file.suffix.lower()
    try:
        if kind == ".csv":
            with open(file, newline="", encoding="utf-8") as handle:
                rows = [
                    {k: v for k, v in row.items() if v not in ("", None)}
                    for row in csv.DictReader(handle)
                ]
        elif kind == ".json":
            rows = json.loads(file.read_text(encoding="utf-8"))
        elif kind == ".toml":
            rows = tomllib.loads(file.read_text(encoding="utf-8")).get("run")
        else:
            raise SweepError(f"{file}: settings must be a .csv, .json or .toml file")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, csv.Error, UnicodeDecodeError) as error:
        raise SweepError(f"{file}: cannot be read ({error}): fix the file") from None
    if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
        shape = {
            ".json": "a list of objects",
            ".toml": "[[run]] tables",
            ".csv": "a header and rows",
        }
        raise SweepError(f"{file}: no settings found: write {shape[kind]}, one per run")
    return rows


def command_line(setting: dict, options: dict[str, Option]) -> list[str]:
    """The script's arguments for one setting; flags become ``--x`` / ``--no-x``.

    A value that starts with ``-`` is joined to its option (``--shift=-1``), so that
    argparse takes it for the value and not for another option.
    """
    arguments: list[str] = []
    for name, value in setting.items():
        option = _option_for(name, options)
        if option.takes_value and not isinstance(value, list) and _text(value).startswith("-"):
            arguments.append(f"{option.flag}={_text(value)}")
        elif option.takes_value:
            values = value if isinstance(value, list) else [value]
            arguments += [option.flag, *(_text(v) for v in values)]
        elif _truth(value):
            arguments.append(option.flag)
        elif option.negation:
            arguments.append(option.negation)
    return arguments


def _text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _truth(value) -> bool:
    word = str(value).strip().lower()
    if isinstance(value, bool) or word in TRUE_WORDS | FALSE_WORDS:
        return value if isinstance(value, bool) else word in TRUE_WORDS
    raise SweepError(
        f"{value!r} is not true or false: a flag option takes true/false, yes/no or 1/0"
    )


def _same_key(values: dict) -> tuple:
    """A hashable form of argument values, so "2", 2 and 2.0 (or "true" and True) compare equal."""
    return tuple(sorted((name, _normal(value)) for name, value in values.items()))


def _normal(value):
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ndarray":
        return tuple(_normal(v) for v in value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | numbers.Number):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


# ---- the plan -----------------------------------------------------------------------------------


@dataclass
class Run:
    """One planned run: its place in the sweep, its setting and its command-line arguments."""

    index: int
    setting: dict
    repeat: int
    arguments: list[str]
    existing: int | None = None  # result number when --resume found it complete


@dataclass
class Plan:
    """What a sweep will run: the script, its hash, the experiment, and every run."""

    script: Path
    script_sha256: str  # the file's bytes, as the run records have it
    script_hash: str  # provenance.script_hash: its syntax tree, so a reformat keeps it
    experiment: str
    runs: list[Run]
    options: dict[str, Option] = field(default_factory=dict)

    @property
    def todo(self) -> list[Run]:
        return [r for r in self.runs if r.existing is None]

    def table(self):
        """The planned runs as a DataFrame (what ``--dry-run`` shows)."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "run": r.index,
                    **r.setting,
                    **({"repeat": r.repeat} if self.repeats else {}),
                    "status": "planned" if r.existing is None else f"complete: result {r.existing}",
                    "command": shlex.join(["python", paths.relative(self.script), *r.arguments]),
                }
                for r in self.runs
            ]
        )

    @property
    def repeats(self) -> bool:
        return any(r.repeat > 1 for r in self.runs)


def plan(
    script: str | os.PathLike,
    grid: str | dict | None = None,
    settings: str | os.PathLike | None = None,
    *,
    repeat: int = 1,
    experiment: str | None = None,
    resume: bool = False,
) -> Plan:
    """Check the script and the settings, and list the runs (skipping complete ones if ``resume``).

    Nothing is scheduled: unknown option names, a missing script or a malformed
    grid fail here, before any run starts.
    """
    path = _script_path(script)
    if grid is None and settings is None:
        raise SweepError('give the settings to run: --grid "k=2,3,4 seed=1,2" or --settings FILE')
    if repeat < 1:
        raise SweepError(f"--repeat {repeat}: give 1 or more runs per setting")
    combos = combine(
        parse_grid(grid) if isinstance(grid, str) else (grid or {}),
        read_settings(settings) if settings is not None else None,
    )
    options = script_options(path)
    unknown = sorted({n for s in combos for n in s if _option_for(n, options) is None})
    if unknown:
        known = ", ".join(o.flag for o in options.values()) or "no options"
        shown = paths.relative(path)
        raise SweepError(
            f"{shown} has no option {', '.join('--' + n.lstrip('-') for n in unknown)}: "
            f"it has {known} (see python {shown} --help)"
        )
    _check_types(combos, options, path)
    experiment = experiment or path.stem
    results.folder_of(experiment)  # refuses a name that is not one folder name
    runs = [
        Run(i, setting, r + 1, command_line(setting, options))
        for i, (setting, r) in enumerate((s, r) for s in combos for r in range(repeat))
    ]
    result = Plan(
        path, provenance.file_hash(path), provenance.script_hash(path), experiment, runs, options
    )
    if resume:
        _mark_complete(result)
    return result


def _check_types(combos: list[dict], options: dict[str, Option], path: Path) -> None:
    """Refuse a value the script's argparse would refuse for its type=int / type=float."""
    for setting in combos:
        for name, value in setting.items():
            option = _option_for(name, options)
            if not (option.takes_value and option.kind):
                continue
            for item in value if isinstance(value, list) else [value]:
                try:
                    CONVERTERS[option.kind](_text(item))
                except ValueError:
                    kind = {"int": "a whole number", "float": "a number"}[option.kind]
                    raise SweepError(
                        f"{option.flag} {_text(item)!r}: {paths.relative(path)} reads "
                        f"{option.flag} as "
                        f"type={option.kind}, and {_text(item)!r} is not {kind}: fix the value"
                    ) from None


def _script_path(script: str | os.PathLike) -> Path:
    given = Path(script)
    for candidate in (given, paths.find_root() / given):
        if candidate.is_file() and candidate.suffix == ".py":
            return candidate.resolve()
    found = (
        sorted(p.name for p in paths.SCRIPTS_DIR.glob("*.py")) if paths.SCRIPTS_DIR.is_dir() else []
    )
    hint = f"scripts/ has {', '.join(found)}" if found else "extract one with invoke extract-cell"
    raise SweepError(f"script {str(script)!r} does not exist or is not a .py file: {hint}")


def _mark_complete(plan: Plan) -> None:
    """Mark runs whose setting already has a complete result of this script: the same code,
    by :func:`provenance.script_hash` (a reformatted script is the same; an edited one is not)."""
    table = results.runs(plan.experiment)
    if "script_hash" not in table:  # records read one by one where the table lacks the column
        table["script_hash"] = [
            results.record(plan.experiment, int(n)).get("script_hash") for n in table["number"]
        ]
    same = table["script_hash"] == plan.script_hash
    # Records saved before run records carried script_hash: the same bytes are the same script.
    same |= table["script_hash"].isna() & (table["script_sha256"] == plan.script_sha256)
    rows = table[same].to_dict("records")
    # Results by their arguments: the setting's values, and the script's defaults for the
    # options it leaves out (any value where the default is unknown); each counts once.
    index: dict[tuple, dict[tuple, list[int]]] = {}
    for run in plan.runs:
        wanted = {o.dest: o.default for o in plan.options.values() if o.default != UNKNOWN}
        wanted |= {
            _option_for(n, plan.options).dest: _flag_value(n, v, plan.options)
            for n, v in run.setting.items()
        }
        names = tuple(sorted(wanted))
        if names not in index:
            index[names] = {}
            for row in rows:
                # an argument named like a column of the table (host...) is "arg.<name>"
                values = {d: row.get(f"arg.{d}", row.get(d)) for d in names}
                index[names].setdefault(_same_key(values), []).append(int(row["number"]))
        found = index[names].get(_same_key(wanted))
        if found:
            run.existing = found.pop(0)


def _flag_value(name: str, value, options: dict[str, Option]):
    return value if _option_for(name, options).takes_value else _truth(value)
