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
script_notebook_names = set(globals())  # under `%run -i`: the notebook's names (alone: none)
script_parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
script_parser.add_argument(
    "--args",
    nargs="*",
    default=["--fast"],
    help="the user's own args (default: %(default)s)",
)
script_parser.add_argument("--parser", default="csv", help="set in cell 1 (default: %(default)s)")
script_parser.add_argument(
    "--fresh",
    action=argparse.BooleanOptionalAction,
    default=True,
    help="a parameter named like the script's own option",
)
script_parser.add_argument(
    "--recompute",
    action="store_true",
    help="recompute the inputs the notebook already holds under %%run -i",
)
script_args = script_parser.parse_args()
args = script_args.args  # from cell 1; the user's own args
parser = script_args.parser  # from cell 1

# %% Inputs, from cell 1 of tests/extract_cases/collisions/notebook.py
reused = set() if script_args.recompute else script_notebook_names & {"results"}
if reused:
    print(
        f"collisions: reusing {', '.join(sorted(reused))} from the notebook "
        "(--recompute recomputes them)"
    )
# cell 1
if "results" not in reused:
    results = {}

# %% Cell 2 of tests/extract_cases/collisions/notebook.py
fresh = script_args.fresh  # a parameter named like the script's own option
results[parser] = len(args)
notebook_names = sorted(results)

# %% Save what the cell computed, with the arguments, in results/collisions/
results_store.save("collisions", {"notebook_names": notebook_names}, args=script_args)
