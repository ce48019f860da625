"""Every `invoke` command in README.md and docs/ names a task and options that exist.

Like sqlite-utils' documentation tests: a renamed task or option fails here, not in a
reader's terminal. Each command is parsed by invoke's own parser against tasks.py.
"""

import importlib.util
import re
import shlex
from pathlib import Path

import pytest
from invoke.exceptions import ParseError
from invoke.parser import Parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# A command in a code block line or an inline code span, after an optional runner.
COMMAND = re.compile(r"(?:^|`|&& )(?:uv run |\.venv/bin/)?(invoke(?: [^`\n]*)?)(?=`|$)", re.M)


def commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for match in COMMAND.finditer(page.read_text(encoding="utf-8")):
            found.append((page.relative_to(ROOT).as_posix(), match[1].strip()))
    return found


def tasks_collection():
    spec = importlib.util.spec_from_file_location("tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ns


def test_the_docs_show_invoke_commands():
    """The README and docs/ are found and hold commands (so the test below checks something)."""
    pages = {page for page, _ in commands()}
    assert "README.md" in pages and "docs/etl.md" in pages


@pytest.mark.parametrize("page, command", commands())
def test_every_documented_command_parses(page, command):
    """The task exists, and each option and positional argument is one it takes."""
    ns = tasks_collection()
    words = shlex.split(command, comments=True)[1:]
    if "--" in words:
        words = words[: words.index("--")]  # the rest goes to the task as it is
    if not words or words[0] in ("--list", "-l"):
        return
    if words[0] in ("--help", "-h"):
        named = words[1:2] or ["TASK"]  # an upper-case word is a placeholder
        assert named[0].isupper() or named[0] in ns.task_names, f"{page}: {command}"
        return
    assert words[0] in ns.task_names, f"{page}: {command}: no task {words[0]!r}"
    if len(words) == 1:
        return  # the task named in prose: `invoke sweep` runs a script over many settings
    # An upper-case word (SCRIPT, N) is a placeholder: any value of its option's type.
    words = ["1" if re.fullmatch(r"[A-Z][A-Z_]*", word) else word for word in words]
    try:
        Parser(contexts=ns.to_contexts()).parse_argv(words)
    except ParseError as error:
        # Prose may leave out the positional arguments (`invoke sweep --jobs N`), never
        # name an option or task that does not exist.
        assert "did not receive required positional" in str(error), f"{page}: {command}: {error}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.relative_to(ROOT).as_posix())
def test_every_link_to_a_file_of_the_project_exists(page):
    """Links such as [etl](docs/etl.md) point at files that are there (web links aside)."""
    links = re.findall(r"\]\(([^)#\s]+)", page.read_text(encoding="utf-8"))
    missing = [link for link in links if "://" not in link and not (page.parent / link).exists()]
    assert missing == []
