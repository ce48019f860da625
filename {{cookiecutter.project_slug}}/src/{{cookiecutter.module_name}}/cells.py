"""Moved to :mod:`.notebook.scope`; kept only for ``workspace`` until it imports that."""

from .notebook.scope import free_names, to_python

__all__ = ["free_names", "to_python"]
