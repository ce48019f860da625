"""Keeping ``results/`` tidy: archive runs (never delete them), remove dead saves' temp files.

``archive("kmeans", script="old")`` moves the chosen runs' files to
``results/.archive/kmeans/`` and appends what it moved, when and why to
``results/.archive/kmeans/archived.jsonl``; their numbers are never given again.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .. import paths, provenance
from .store import (
    TEMP_MAX_AGE,
    ResultsError,
    archive_folder_of,
    existing_folder,
    experiments,
    folder_of,
    list_numbers,
    remove_dead_temp_files,
    write_hint,
)
from .table import number_ranges, runs

SELECTION = ("script", "sweep", "clean", "since", "status", "where")


def archive(experiment: str, **selection) -> list[int]:
    """Move the runs of ``experiment`` that ``selection`` (the criteria of ``runs()``) chooses
    to ``results/.archive/<experiment>/``; return their numbers.

    At least one criterion is needed: archiving is for some runs, never all by accident.
    A run still being written is left where it is.
    """
    unknown = sorted(set(selection) - set(SELECTION))
    if unknown:
        raise ResultsError(f"archive() got {unknown[0]}=: choose runs by {', '.join(SELECTION)}")
    chosen = {k: v for k, v in selection.items() if v not in (None, [], {})}
    if chosen.get("status") == "complete":
        del chosen["status"]  # the default of runs(): not a choice
    if not chosen:
        raise ResultsError(
            f"archive({experiment!r}) needs a selection (script=, sweep=, clean=, since=, "
            "status= or where=): it never archives every run by default"
        )
    folder = existing_folder(experiment)
    table = runs(experiment, **chosen)
    numbers = [
        int(n) for n, s in zip(table["number"], table["status"], strict=True) if s != "running"
    ]
    if not numbers:
        return []
    target = archive_folder_of(experiment)
    target.mkdir(parents=True, exist_ok=True)
    # Numbers are never reused, also if the hint file is lost later: the store lists the archive.
    write_hint(folder, experiment, max(list_numbers(folder, experiment), default=0))
    files = list_numbers(folder, experiment)
    moved = []
    for number in numbers:
        for name in files.get(number, []):
            if (target / name).exists():
                raise ResultsError(
                    f"{paths.relative(target / name)} exists already: run {number} was archived "
                    "before; move one of the two away by hand"
                )
        for name in files.get(number, []):
            os.replace(folder / name, target / name)
        moved.append(number)
    entry = {
        "archived": provenance.timestamp(time.time()),
        "numbers": number_ranges(moved),
        "selection": {
            k: (v if isinstance(v, str | bool | int | float) else str(v)) for k, v in chosen.items()
        },
        "user": provenance.user(),
    }
    with open(target / "archived.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\n")
    return moved


def tidy(experiment: str | None = None, max_age: float = TEMP_MAX_AGE) -> dict[str, list[Path]]:
    """Remove the temporary files of dead saves of ``experiment`` (default: of every
    experiment, and of ``data/interim``): those of this machine whose process is gone, and
    others untouched for ``max_age`` seconds. Returns the files removed, by folder."""
    folders = (
        [existing_folder(experiment)]
        if experiment is not None
        else [
            *(folder_of(name) for name in experiments()),
            paths.INTERIM_DIR,
        ]
    )
    removed = {}
    for folder in folders:
        gone = remove_dead_temp_files(folder, max_age)
        if gone:
            removed[paths.relative(folder)] = gone
    return removed
