"""The Workspace pane: the notebook's variables in JupyterLab's right sidebar.

The view is an anywidget (plain JavaScript in ``pane.js``, no build) inside an ipylab
panel, both installed prebuilt from PyPI by the project's ``notebook`` extra. While the
pane is shown, one ``post_run_cell`` callback refreshes it after every cell with the
cheap listing of ``%workspace``; when the pane is hidden (its sidebar collapsed or
another tab chosen) or closed, the callback is removed, so a cell runs nothing of
the extension. Filtering and sorting happen in the browser, without the kernel.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from . import links
from .state import MissingPaneError, Workspace, is_code, set_by_text
from .summary import format_bytes, format_shape, summarize

ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">'
    '<path class="jp-icon3" fill="#616161" d="M3 4h18v3H3zm0 5h5v11H3zm7 0h11v3H10zm0 '
    '5h11v2H10zm0 4h11v2H10z"/></svg>'
)
RANK = 50  # above the Property Inspector and the Debugger in the right sidebar


@cache
def _view_class():
    try:
        import anywidget
        import traitlets
    except ImportError:
        raise MissingPaneError(
            "the Workspace pane needs the project's notebook extra: "
            "pip install -e '.[notebook]' and restart the kernel"
        ) from None

    class WorkspaceView(anywidget.AnyWidget):
        """The table of variables; filter and sort are the browser's."""

        _esm = Path(__file__).with_name("pane.js")
        rows = traitlets.List().tag(sync=True)
        marks = traitlets.Dict().tag(sync=True)
        run = traitlets.Unicode().tag(sync=True)
        visible = traitlets.Bool(True).tag(sync=True)  # the browser says when it is hidden
        notebook = traitlets.Unicode().tag(sync=True)  # the kernel's notebook, when known

    return WorkspaceView


class Pane:
    """One kernel's pane: the widgets, and the refresh hook while it is shown."""

    def __init__(self, workspace: Workspace):
        view_class = _view_class()
        try:
            import ipylab
        except ImportError:
            raise MissingPaneError(
                "the Workspace pane needs ipylab (the project's notebook extra): "
                "pip install -e '.[notebook]' and restart the kernel"
            ) from None
        self.workspace = workspace
        self.shell = workspace.shell
        self.refreshes = 0
        self.view = view_class()
        self.panel = ipylab.Panel([self.view])
        # one pane per kernel: the tab names the kernel's notebook when it is known
        notebook = links.notebook_of(self.shell.user_ns)
        self.panel.title.label = f"Workspace: {notebook.stem}" if notebook else "Workspace"
        owner = notebook.name if notebook else "this kernel"
        self.view.notebook = str(notebook or "")
        self.panel.title.caption = f"The variables of {owner}"
        self.panel.title.closable = True
        self.panel.title.icon = ipylab.Icon(name="workspace-pane:icon", svgstr=ICON)
        self.panel.layout.height = "100%"
        self.app = ipylab.JupyterFrontEnd()
        self.app.shell.add(self.panel, "right", {"rank": RANK})
        self.app.shell.observe(self._on_shell_widgets, "_widgets")
        self.view.observe(self._on_visible, "visible")
        self.view.on_msg(self._on_message)
        self.closed = False
        self._listening = False
        self.listen()
        self.refresh()

    # -- the hook, only while the pane is shown

    def listen(self) -> None:
        if not self._listening and not self.closed:
            self.shell.events.register("post_run_cell", self.after_cell)
            self._listening = True

    def stop_listening(self) -> None:
        if self._listening:
            self.shell.events.unregister("post_run_cell", self.after_cell)
            self._listening = False

    @property
    def listening(self) -> bool:
        """Whether cells refresh the pane (only while it is shown)."""
        return self._listening

    def after_cell(self, result) -> None:
        """IPython's ``post_run_cell``: note the cell's id, refresh the listing."""
        info = getattr(result, "info", None)
        if result.execution_count is not None:
            self.workspace.note_cell_id(result.execution_count, getattr(info, "cell_id", None))
        try:
            self.refresh()
        except Exception as error:  # the pane must never break a cell
            self.view.run = f"(the pane could not list the variables: {error!r})"

    # -- what the browser shows

    def refresh(self) -> None:
        """Send the listing and the marks of the last ``%run`` to the browser."""
        self.refreshes += 1
        rows = pane_rows(self.workspace)
        report = self.workspace.last_report
        with self.view.hold_sync():
            self.view.rows = rows
            if report is None or self.workspace.marks_cleared:
                self.view.marks, self.view.run = {}, ""
            else:
                self.view.marks = report.marks()
                where = set_by_text(report.cell, report.execution, None)
                self.view.run = f"%run {report.command} ({where})" if where else report.command

    def reveal(self) -> None:
        """Bring the pane forward in the sidebar."""
        self.view.send({"reveal": True})

    def close(self) -> None:
        """Remove the pane; cells stop calling anything of the extension."""
        self.stop_listening()
        self.closed = True
        title = self.panel.title
        for widget in (self.view, title.icon, title, self.panel, self.app):
            widget.close()

    def _on_visible(self, change) -> None:
        if change["new"]:
            self.listen()
            self.refresh()
        else:
            self.stop_listening()

    def _on_message(self, _widget, content, _buffers) -> None:
        if content.get("clear_marks"):
            self.workspace.marks_cleared = True
            self.refresh()

    def _on_shell_widgets(self, change) -> None:
        # ipylab lists the widgets it placed; the user closed ours when it is gone
        reference = f"IPY_MODEL_{self.panel.model_id}"
        ours = [w for w in change["old"] if w.get("serializedWidget") == reference]
        if ours and all(w.get("id") != ours[0].get("id") for w in change["new"]):
            self.close()


def pane_rows(workspace: Workspace) -> list[dict]:
    """The rows the pane shows: every user name (code flagged), with display texts."""
    workspace.forget_if_reset()
    items = workspace.user_items(include_imported=True)
    setters = workspace.set_by(items)
    cells = {execution: workspace.cell_of(execution) for execution, _ in setters.values()}
    rows = []
    for name, value in items:
        summary = summarize(value)
        execution, script = setters.get(name, (None, None))
        cell = cells.get(execution)
        size = None if summary.bytes is None else format_bytes(summary.bytes, summary.shallow)
        rows.append(
            {
                "name": name,
                "type": summary.type + (f" {summary.dtype}" if summary.dtype else ""),
                "shape": "" if summary.shape is None else format_shape(summary.shape),
                "length": _size_key(summary.shape),
                "bytes": summary.bytes,
                "size": size or "",
                "value": summary.preview or ("(slow to read)" if summary.slow else ""),
                "cell": cell if cell is not None else execution,
                "set_by": set_by_text(cell, execution, script),
                "execution": execution,
                "code": is_code(value),
            }
        )
    return rows


def _size_key(shape: tuple | None) -> int | None:
    if shape is None:
        return None
    total = 1
    for dimension in shape:
        total *= dimension
    return total
