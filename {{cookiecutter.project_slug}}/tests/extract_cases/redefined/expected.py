# %%
"""Cell 4 of notebook.py, as a script."""
# Extracted from tests/extract_cases/redefined/notebook.py, cell 4, by `invoke extract-cell`
# (re-extract with --force after changing the notebook). Run it with
# `python scripts/redefined.py --help`, or in a notebook with
# `%run -i scripts/redefined.py`, which shares the notebook's variables.

# %% Imports
import argparse

from {{ cookiecutter.module_name }} import results

# %% Parameters
# Under `%run -i` the notebook's names are in globals() (alone: none).
_script = argparse.Namespace(notebook=set(globals()))
_script.parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
_script.parser.add_argument("--y", type=int, default=0, help="set in cell 1 (default: %(default)s)")
_script.parser.add_argument(
    "--fresh",
    action="store_true",
    help="recompute the inputs the notebook already holds under %%run -i",
)
_script.args = _script.parser.parse_args()
y = _script.args.y  # from cell 1

# %% Inputs, from cells 2-3 of tests/extract_cases/redefined/notebook.py
_script.reused = set() if _script.args.fresh else _script.notebook & {"x"}
if _script.reused:
    print(
        f"redefined: reusing {', '.join(sorted(_script.reused))} from the notebook "
        "(--fresh recomputes them)"
    )
# cell 2
if "x" not in _script.reused:
    x = [10, 20]  # the last definition before the cell wins
    x.append(30)
    # cell 3
    x = x + [40]

# %% Cell 4 of tests/extract_cases/redefined/notebook.py
result = sum(x) + y

# %% Save what the cell computed, with the arguments, in results/redefined/
results.save("redefined", {"result": result}, args=_script.args)

del _script  # the script's own names stay out of the notebook
