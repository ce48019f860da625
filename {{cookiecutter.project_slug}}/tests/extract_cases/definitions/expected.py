# %%
"""Cell 3 of notebook.py, as a script."""
# Extracted from tests/extract_cases/definitions/notebook.py, cell 3, by `invoke extract-cell`
# (re-extract with --force after changing the notebook). Run it with
# `python scripts/definitions.py --help`, or in a notebook with
# `%run -i scripts/definitions.py`, which shares the notebook's variables.

# %% Imports
import argparse

from {{ cookiecutter.module_name }} import results

# %% Parameters
# Under `%run -i` the notebook's names are in globals() (alone: none).
_script = argparse.Namespace(notebook=set(globals()))
_script.parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
_script.parser.add_argument(
    "--fresh",
    action="store_true",
    help="recompute the inputs the notebook already holds under %%run -i",
)
_script.args = _script.parser.parse_args()

# %% Inputs, from cells 1-2 of tests/extract_cases/definitions/notebook.py
_script.reused = set() if _script.args.fresh else _script.notebook & {"FACTOR", "counter"}
if _script.reused:
    print(
        f"definitions: reusing {', '.join(sorted(_script.reused))} from the notebook "
        "(--fresh recomputes them)"
    )
# cell 1
if "FACTOR" not in _script.reused:
    FACTOR = 3
if "counter" not in _script.reused:
    counter = 0


def triple(x):
    """Uses the global FACTOR when called."""
    return x * FACTOR


if "counter" not in _script.reused:

    def bump():
        global counter
        counter += 1


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm(self):
        return (self.x**2 + self.y**2) ** 0.5


# cell 2
if "counter" not in _script.reused:
    bump()
    bump()
square = lambda v: v * v  # noqa: E731

# %% Cell 3 of tests/extract_cases/definitions/notebook.py
p = Point(triple(1), square(4))
length = p.norm()
calls = counter

# %% Save what the cell computed, with the arguments, in results/definitions/
results.save("definitions", {"p": p, "length": length, "calls": calls}, args=_script.args)

del _script  # the script's own names stay out of the notebook
