# %%
"""Cell 4 of notebook.py, as a script."""
# Extracted from tests/extract_cases/mutations/notebook.py, cell 4, by `invoke extract-cell`
# (re-extract with --force after changing the notebook). Run it with
# `python scripts/mutations.py --help`, or in a notebook with
# `%run -i scripts/mutations.py`, which shares the notebook's variables.

# %% Imports
import argparse
import random

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

# %% Inputs, from cells 1-3 of tests/extract_cases/mutations/notebook.py
_script.reused = (
    set()
    if _script.args.fresh
    else _script.notebook
    & {
        "model",
        "n",
        "noise",
        "rng",
        "rows",
        "table",
    }
)
if _script.reused:
    print(
        f"mutations: reusing {', '.join(sorted(_script.reused))} from the notebook "
        "(--fresh recomputes them)"
    )
# cell 1
if "model" not in _script.reused:

    class Model:
        def __init__(self):
            self.weights = None

        def fit(self, xs):
            self.weights = sum(xs)
            return self


# cell 2
if "table" not in _script.reused:
    table = {"a": [3, 1, 2]}
    table["b"] = [9, 8]
if "rows" not in _script.reused:
    rows = []
    rows.append(4)
if "n" not in _script.reused:
    n = 1
    n += 1
if "model" not in _script.reused:
    model = Model()
    model.fit([1, 2])
    model.name = "m"
if "table" not in _script.reused:
    view = table["a"]
    view.sort()
if "rng" not in _script.reused:
    rng = random.Random(0)
if "noise" not in _script.reused:
    random.seed(1)
    noise = random.random()
# cell 3
if "rng" not in _script.reused:
    rng.random()

# %% Cell 4 of tests/extract_cases/mutations/notebook.py
draw = rng.random()
summary = (sorted(table), rows, n, model.weights, model.name, noise)

# %% Save what the cell computed, with the arguments, in results/mutations/
results.save("mutations", {"draw": draw, "summary": summary}, args=_script.args)

del _script  # the script's own names stay out of the notebook
