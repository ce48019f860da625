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
notebook_names = set(globals())  # under `%run -i`: the notebook's names (alone: none)
parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
parser.add_argument(
    "--fresh",
    action="store_true",
    help="recompute the inputs the notebook already holds under %%run -i",
)
args = parser.parse_args()

# %% Inputs, from cells 1-3 of tests/extract_cases/mutations/notebook.py
reused = set() if args.fresh else notebook_names & {"model", "n", "noise", "rng", "rows", "table"}
if reused:
    print(
        f"mutations: reusing {', '.join(sorted(reused))} from the notebook "
        "(--fresh recomputes them)"
    )
# cell 1
if "model" not in reused:
    class Model:
        def __init__(self):
            self.weights = None

        def fit(self, xs):
            self.weights = sum(xs)
            return self

# cell 2
if "table" not in reused:
    table = {"a": [3, 1, 2]}
    table["b"] = [9, 8]
if "rows" not in reused:
    rows = []
    rows.append(4)
if "n" not in reused:
    n = 1
    n += 1
if "model" not in reused:
    model = Model()
    model.fit([1, 2])
    model.name = "m"
if "table" not in reused:
    view = table["a"]
    view.sort()
if "rng" not in reused:
    rng = random.Random(0)
if "noise" not in reused:
    random.seed(1)
    noise = random.random()
# cell 3
if "rng" not in reused:
    rng.random()

# %% Cell 4 of tests/extract_cases/mutations/notebook.py
draw = rng.random()
summary = (sorted(table), rows, n, model.weights, model.name, noise)

# %% Save what the cell computed, with the arguments, in results/mutations/
results.save("mutations", {"draw": draw, "summary": summary}, args=args)
