# %%
"""Train the model

One pass per epoch.
"""
# Extracted from tests/extract_cases/parameters/notebook.py, cell 5, by `invoke extract-cell`
# (re-extract with --force after changing the notebook). Run it with
# `python scripts/parameters.py --help`, or in a notebook with
# `%run -i scripts/parameters.py`, which shares the notebook's variables.

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
    "--dataset",
    dest="DATASET",
    default="penguins",
    help="a constant, but in the parameters cell: an option (default: %(default)s)",
)
_script.parser.add_argument(
    "--epochs",
    type=int,
    default=3,
    help="passes over the data (default: %(default)s)",
)
_script.parser.add_argument(
    "--offset",
    type=int,
    default=2,
    help="the script keeps this last value: an option (default: %(default)s)",
)
_script.parser.add_argument(
    "--alpha",
    type=float,
    default=0.1,
    help="learning rate (default: %(default)s)",
)
_script.parser.add_argument(
    "--label",
    default="run",
    help="a name for the run (default: %(default)s)",
)
_script.parser.add_argument(
    "--verbose",
    action=argparse.BooleanOptionalAction,
    default=False,
    help="print every step",
)
_script.parser.add_argument("--limit", default=None, help="set in cell 5 (default: %(default)s)")
_script.parser.add_argument(
    "--sizes",
    nargs="*",
    type=int,
    default=[1, 2, 3],
    help="layer sizes (default: %(default)s)",
)
_script.parser.add_argument(
    "--shape",
    nargs="*",
    type=int,
    default=[4, 5],
    help="set in cell 5 (default: %(default)s)",
)
_script.parser.add_argument(
    "--names",
    nargs="*",
    default=["a", "b"],
    help="set in cell 5 (default: %(default)s)",
)
_script.parser.add_argument(
    "--fresh",
    action="store_true",
    help="recompute the inputs the notebook already holds under %%run -i",
)
_script.args = _script.parser.parse_args()
DATASET = _script.args.DATASET  # from cell 2; a constant, but in the parameters cell: an option
epochs = _script.args.epochs  # from cell 2; passes over the data
offset = _script.args.offset  # from cell 3; the script keeps this last value: an option

# %% Inputs, from cell 3 of tests/extract_cases/parameters/notebook.py
_script.reused = set() if _script.args.fresh else _script.notebook & {"THRESHOLD"}
if _script.reused:
    print(
        f"parameters: reusing {', '.join(sorted(_script.reused))} from the notebook "
        "(--fresh recomputes them)"
    )
# cell 3
if "THRESHOLD" not in _script.reused:
    THRESHOLD = 0.5  # upper case: a constant, stays code

# %% Cell 5 of tests/extract_cases/parameters/notebook.py
alpha = _script.args.alpha  # learning rate
label = _script.args.label  # a name for the run
verbose = _script.args.verbose  # print every step
limit = _script.args.limit
sizes = _script.args.sizes  # layer sizes
shape = tuple(_script.args.shape)
names = _script.args.names
_private = 7
history = []
for epoch in range(epochs):
    history.append(alpha * epoch * sum(sizes) + offset + THRESHOLD)
    if verbose:
        print(label, epoch, history[-1], limit, shape, names, _private, DATASET)
final = history[-1]

# %% Save what the cell computed, with the arguments, in results/parameters/
results.save(
    "parameters",
    {
        "_private": _private,
        "history": history,
        "final": final,
    },
    args=_script.args,
)

del _script  # the script's own names stay out of the notebook
