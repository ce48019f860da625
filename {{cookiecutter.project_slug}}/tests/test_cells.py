"""What a piece of notebook code needs: one line per case, source in, names out."""

import pytest

from {{ cookiecutter.module_name }}.notebook.scope import CellSyntaxError, free_names, to_python


@pytest.mark.parametrize(
    "source, needs",
    [
        ("y = x + 1", {"x"}),
        ("x = 1\ny = x + 1", set()),
        ("def f():\n    return g\ng = 1", set()),  # function bodies are deferred
        ("def f():\n    return g", {"g"}),
        ("[a for a in b]", {"b"}),
        ("x += 1", {"x"}),
        ("del x", {"x"}),
        ("x = 1\ndel x\nprint(x)", {"x"}),
        ("if (n := len(s)) > 2:\n    print(n)", {"s"}),
        ("try:\n    data\nexcept NameError:\n    data = None", set()),
        ("import numpy as np\nnp.zeros(3)", set()),
        ("class A:\n    b = c", {"c"}),
        ("print(len(range(3)), __name__)", set()),
        ("%matplotlib inline\nplt.plot(xs)", {"plt", "xs"}),
        ("%time y = f(x)\nprint(y)", {"f", "x"}),
        ("%timeit -n 10 -r 2 f(x)", {"f", "x"}),
        ("%%time\nfor i in items:\n    total = i", {"items"}),
        ("%%capture out\nprint(1)\nout.show()", set()),
        ("!ls -l\nfiles = !ls\nprint(files)", set()),
        ("%%bash\necho $HOME", set()),
    ],
)
def test_free_names(source, needs):
    assert set(free_names(source)) == needs


def test_free_names_gives_line_numbers():
    assert free_names("a = 1\nb = c\n\nd = c + e") == {"c": [2, 4], "e": [4]}


def test_known_names_are_not_free():
    assert free_names("y = x + 1", known={"x"}) == {}


def test_to_python_keeps_line_numbers():
    source = "%%time\nx = 1\n%time y = 2\n!echo hi\nz = 3"
    assert len(to_python(source).splitlines()) == len(source.splitlines())


def test_a_syntax_error_names_where_and_what():
    with pytest.raises(CellSyntaxError, match=r"explore.ipynb cell 3, line 2: .*'x = = 2'"):
        free_names("y = 1\nx = = 2", where="explore.ipynb cell 3")
