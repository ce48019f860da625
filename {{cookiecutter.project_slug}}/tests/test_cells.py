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


def test_a_kernel_cell_is_named_by_its_position_with_in_n_beside_it(tmp_path):
    """What a kernel knows of a cell (its id or its code) gives the number `invoke cells` prints."""
    import nbformat

    from {{ cookiecutter.module_name }} import notebook

    cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("x = 1", id="first", execution_count=7),
        nbformat.v4.new_code_cell("y = x + 1", id="second", execution_count=3),
    ]
    nbformat.write(nbformat.v4.new_notebook(cells=cells), tmp_path / "nb.ipynb")
    read = notebook.read(tmp_path / "nb.ipynb")
    found = notebook.find_cell(read, source="y = x + 1\n")
    assert (found.number, found.label) == (3, "cell 3 (In [3])")
    assert notebook.find_cell(read, cell_id="first").label == "cell 2 (In [7])"
    assert notebook.find_cell(read, source="z = 0") is None
