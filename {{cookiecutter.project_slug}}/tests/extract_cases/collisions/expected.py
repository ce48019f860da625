# %%
"""Cell 2 of notebook.py, as a script."""
# Extracted from tests/extract_cases/collisions/notebook.py, cell 2, by `invoke extract-cell`
# (re-extract with --force after changing the notebook). Run it with
# `python scripts/collisions.py --help`, or in a notebook with
# `%run -i scripts/collisions.py`, which shares the notebook's variables.

# %% Imports
import argparse

from {{ cookiecutter.module_name }} import results as results_store

# %% Parameters
# Under `%run -i` the notebook's names are in globals() (alone: none).
_script = argparse.Namespace(notebook=set(globals()))
_script.parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
_script.parser.add_argument(
    "--args",
    nargs="*",
    default=["--fast"],
    help="the user's own args (default: %(default)s)",
)
_script.parser.add_argument("--parser", default="csv", help="set in cell 1 (default: %(default)s)")
_script.parser.add_argument(
    "--fresh",
    action=argparse.BooleanOptionalAction,
    default=True,
    help="a parameter named like the script's own option",
)
_script.parser.add_argument(
    "--recompute",
    action="store_true",
    help="recompute the inputs the notebook already holds under %%run -i",
)
_script.args = _script.parser.parse_args()
args = _script.args.args  # from cell 1; the user's own args
parser = _script.args.parser  # from cell 1

# %% Inputs, from cell 1 of tests/extract_cases/collisions/notebook.py
_script.reused = set() if _script.args.recompute else _script.notebook & {"results"}
if _script.reused:
    print(
        f"collisions: reusing {', '.join(sorted(_script.reused))} from the notebook "
        "(--recompute recomputes them)"
    )
# cell 1
if "results" not in _script.reused:
    results = {}

# %% Cell 2 of tests/extract_cases/collisions/notebook.py
fresh = _script.args.fresh  # a parameter named like the script's own option
results[parser] = len(args)
notebook_names = sorted(results)

# %% Save what the cell computed, with the arguments, in results/collisions/
results_store.save("collisions", {"notebook_names": notebook_names}, args=_script.args)

del _script  # the script's own names stay out of the notebook
