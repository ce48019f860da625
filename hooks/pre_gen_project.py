"""Validate the user's answers before cookiecutter writes any file.

Cookiecutter renders this file with Jinja. The answers enter as one JSON
document inside a raw string (``tojson`` escapes quotes as ``\\"`` and ``'`` as
``\\u0027``), so a name holding quotes, backslashes or newlines stays data and can
never become code.
"""

import json
import keyword
import re
import sys

CONTEXT = json.loads(r"""{{ cookiecutter | tojson }}""")

# Names a project package must not take: importing the project would hide
# these, or these would hide the project.
CORE_DEPENDENCIES = frozenset(
    """
    adbc_driver_manager adbc_driver_sqlite apsw cookiecutter dask distributed
    invoke ipykernel IPython isal jupyter jupytext matplotlib nbclient nbformat
    numpy pandas pyarrow pyflakes pytest scipy seaborn seqfile setuptools tqdm
    zstandard hypothesis ruff pip tests test conftest tasks src data notebooks
    scripts results figures pydantic jupyterlab jupyter_client jupyter_server
    dask_jobqueue pypdf pre_commit uv docs
    """.split()
)

# PEP 508 distribution names, kept lower case (what pip normalises to).
SLUG_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?$")


def module_problem(name: str) -> str | None:
    """Say what is wrong with ``name`` as the project's package, or None."""
    if not name.isidentifier() or not name.isascii():
        return (
            f"module_name {name!r} is not a valid Python identifier: use ASCII letters, "
            "digits and underscores, not starting with a digit (e.g. 'penguin_study')"
        )
    if keyword.iskeyword(name):
        return f"module_name {name!r} is a Python keyword: choose another name (e.g. '{name}_study')"
    if name in sys.stdlib_module_names or name.lower() in {n.lower() for n in CORE_DEPENDENCIES}:
        return (
            f"module_name {name!r} would shadow the module of the same name from the standard "
            f"library or a core dependency: choose another name (e.g. '{name}_study')"
        )
    if name.startswith("_"):
        return f"module_name {name!r} starts with an underscore: start it with a letter"
    return None


def slug_problem(slug: str) -> str | None:
    """Say what is wrong with ``slug`` as the folder and distribution name, or None."""
    if not SLUG_PATTERN.match(slug):
        return (
            f"project_slug {slug!r} is not a valid distribution name: use lower-case ASCII "
            "letters, digits, '-', '_' or '.', starting and ending with a letter or digit "
            "(e.g. 'penguin-study')"
        )
    return None


def problems(context: dict) -> list[str]:
    """Every problem with the answers in ``context``; empty when all is well."""
    found = [slug_problem(context["project_slug"]), module_problem(context["module_name"])]
    return [p for p in found if p]


def main() -> int:
    found = problems(CONTEXT)
    for problem in found:
        print(f"ERROR: {problem}. Nothing was written.", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
