"""The report of one ``%run``: what a script created, overwrote, changed, deleted and read."""

from __future__ import annotations

from dataclasses import dataclass, field

from .summary import Summary


@dataclass
class RunReport:
    """What one ``%run`` changed in the notebook's namespace, and what it read from it.

    ``cell`` is the notebook cell that ran the script (1-based, as ``invoke cells``
    counts; None when the notebook is not known) and ``execution`` its ``In [n]``.
    """

    command: str
    cell: int | None
    execution: int | None = None
    created: dict[str, Summary] = field(default_factory=dict)
    overwritten: dict[str, tuple[Summary, Summary]] = field(default_factory=dict)
    changed: dict[str, tuple[Summary, Summary]] = field(default_factory=dict)
    deleted: dict[str, Summary] = field(default_factory=dict)
    imported: list[str] = field(default_factory=list)
    read: dict[str, list[int]] = field(default_factory=dict)
    undefined: dict[str, list[int]] = field(default_factory=dict)
    error: str | None = None
    analysis_error: str | None = None
    script: str | None = None  # the script's file name (or module), as "set by" shows it

    @property
    def clobbered(self) -> bool:
        """Whether the script overwrote, changed in place or deleted a notebook name."""
        return bool(self.overwritten or self.changed or self.deleted)

    def marks(self) -> dict[str, dict]:
        """One mark per name the run touched: ``{"mark": "overwritten", "detail": "old → new"}``."""
        found: dict[str, dict] = {}
        for name in self.read:
            found[name] = {"mark": "read", "detail": f"read by {self.script}"}
        for name, new in self.created.items():
            found[name] = {"mark": "created", "detail": f"created by {self.script}: {new}"}
        for group, label in ((self.overwritten, "overwritten"), (self.changed, "changed")):
            for name, (old, new) in group.items():
                found[name] = {"mark": label, "detail": f"{old}  →  {new}"}
        for name, old in self.deleted.items():
            found[name] = {"mark": "deleted", "detail": f"deleted by {self.script}: was {old}"}
        return found

    def format(self) -> str:
        """The report as a few lines of text, the one ``%run`` prints after the script."""
        counts = [
            f"{len(group)} {label}"
            for group, label in (
                (self.created, "created"),
                (self.overwritten, "overwritten"),
                (self.changed, "changed in place"),
                (self.deleted, "deleted"),
                (self.read, "read from the notebook"),
            )
            if group
        ]
        lines = [f"%run {self.command}: {', '.join(counts) or 'no names changed'}"]
        if self.error:
            lines.append(f"  {'raised':<10}{self.error} (what it did before that is below)")
        rows: list[tuple[str, str, str]] = []
        rows += [("created", name, str(new)) for name, new in self.created.items()]
        rows += [
            ("overwrote", name, f"{old}  →  {new}") for name, (old, new) in self.overwritten.items()
        ]
        rows += [("changed", name, f"{old}  →  {new}") for name, (old, new) in self.changed.items()]
        rows += [("deleted", name, str(old)) for name, old in self.deleted.items()]
        width = max((len(name) for _, name, _ in rows), default=0)
        previous = None
        for label, name, text in rows:
            lines.append(f"  {label if label != previous else '':<10}{name:<{width}}  {text}")
            previous = label
        if self.read:
            lines.append(f"  {'read':<10}{_with_lines(self.read)}")
        if self.undefined:
            undefined = _with_lines(self.undefined)
            lines.append(f"  {'undefined':<10}{undefined} (nothing defines these)")
        if self.imported:
            lines.append(f"  {'imported':<10}{', '.join(self.imported)}")
        if self.analysis_error:
            lines.append(f"  (names read not analysed: {self.analysis_error})")
        return "\n".join(lines)


def _with_lines(names: dict[str, list[int]]) -> str:
    def where(lines: list[int]) -> str:
        shown = ", ".join(map(str, lines[:3])) + (", ..." if len(lines) > 3 else "")
        return f"line{'s' if len(lines) > 1 else ''} {shown}"

    return ", ".join(f"{name} ({where(lines)})" for name, lines in names.items())
