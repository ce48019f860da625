"""What `invoke results` prints: the chosen runs as a table, what is not complete, a record."""

from __future__ import annotations

import json
from datetime import datetime

from .. import paths
from .store import ResultsError, existing_folder, latest_number, record
from .table import incomplete, number_ranges, runs

# Hidden in the table (the full values are in each record: --show N).
HIDDEN = ("status", "script", "script_sha256", "format", "problem")
SHORT = {"script_hash": 8, "git_commit": 8}


def _one_record(experiment: str, show) -> str:
    text = str(show).strip()
    if text == "latest":
        number = latest_number(experiment)
    elif text.isdigit():
        number = int(text)
    else:
        raise ResultsError(f"show={show!r}: give a run number (or 'latest')")
    return json.dumps(record(experiment, number), indent=2)


def _described(criteria: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in criteria.items())


def report(experiment: str, show: int | str | None = None, **selection) -> str:
    """The runs of ``experiment`` chosen by ``selection`` (see ``runs()``) as a table, what is
    not complete below it; or, with ``show``, the JSON record of run ``show`` (or 'latest')."""
    folder = existing_folder(experiment)
    if show is not None:
        return _one_record(experiment, show)
    table = runs(experiment, **selection)
    chosen = {k: v for k, v in selection.items() if v not in (None, [], {})}
    if chosen.get("status") == "complete":
        del chosen["status"]  # the default: not a choice
    chose = f" ({_described(chosen)})" if chosen else ""
    lines = []
    where = paths.relative(folder)
    if table.empty:
        lines.append(f"no runs of {experiment!r} in {where}{chose}")
    else:
        shown = table.drop(
            columns=[c for c in HIDDEN if c in table.columns and not _varies(table, c)]
        )
        shown = shown.dropna(axis="columns", how="all").copy()
        local = datetime.now().astimezone().tzinfo
        shown["started"] = shown["started"].dt.tz_convert(local).dt.strftime("%Y-%m-%d %H:%M:%S")
        for column, width in SHORT.items():
            if column in shown:
                shown[column] = [v[:width] if isinstance(v, str) else None for v in shown[column]]
        if "sweep_run" in shown:
            shown["sweep_run"] = [None if v != v else int(v) for v in shown["sweep_run"]]
        shown = shown.astype(object).where(shown.notna(), "-")
        lines.append(shown.to_string(index=False, max_colwidth=40))
        kind = "complete " if selection.get("status", "complete") == "complete" else ""
        lines.append(f"{len(table)} {kind}runs in {where}{chose}: {number_ranges(table['number'])}")
    if selection.get("status", "complete") == "complete":
        lines += [_not_complete(row) for row in incomplete(experiment).to_dict("records")]
    return "\n".join(lines)


def _varies(table, column: str) -> bool:
    """Whether ``column`` says something the table needs (status beyond 'complete', say)."""
    if column == "status":
        return bool((table[column] != "complete").any())
    if column == "problem":
        return bool(table[column].notna().any())
    return False


def _not_complete(row: dict) -> str:
    number = "-" if row["number"] is None or row["number"] != row["number"] else int(row["number"])
    pid = row["pid"]
    known = pid is not None and pid == pid and row["status"] not in ("damaged", "no record")
    who = f" (host {row['host']}, pid {int(pid)})" if known else ""
    why = f": {row['error']}" if isinstance(row["error"], str) else ""
    return f"not complete: run {number}: {row['status']}{who}{why}"
