"""The one exception family of the package.

Library code raises a subclass of :class:`ProjectError` whose message is one
line a user can act on: what is wrong, where, and what to do. ``tasks.py``
turns these into ``invoke.Exit``; notebooks and scripts see them as they are.
"""


class ProjectError(Exception):
    """A problem the user can fix; ``str(error)`` is the one-line explanation."""
