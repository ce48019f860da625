# %%
"""Cell 4 of notebook.py, as a script."""
# Extracted from tests/extract_cases/transitive/notebook.py, cell 4, by `invoke extract-cell`
# (re-extract with --force after changing the notebook). Run it with
# `python scripts/transitive.py --help`, or in a notebook with
# `%run -i scripts/transitive.py`, which shares the notebook's variables.

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
    "--base",
    type=int,
    default=10,
    help="set in cell 1 (default: %(default)s)",
)
_script.parser.add_argument(
    "--fresh",
    action="store_true",
    help="recompute the inputs the notebook already holds under %%run -i",
)
_script.args = _script.parser.parse_args()
base = _script.args.base  # from cell 1

# %% Inputs, from cells 1-3 of tests/extract_cases/transitive/notebook.py
_script.reused = set() if _script.args.fresh else _script.notebook & {"series"}
if _script.reused:
    print(
        f"transitive: reusing {', '.join(sorted(_script.reused))} from the notebook "
        "(--fresh recomputes them)"
    )
# cell 1
if "series" not in _script.reused:
    scale = base * 2
    # cell 2
    offset = scale + 1
    # cell 3
    # The series the model reads.
    series = [offset * i for i in range(3)]

# %% Cell 4 of tests/extract_cases/transitive/notebook.py
total = sum(series)

# %% Save what the cell computed, with the arguments, in results/transitive/
results.save("transitive", {"total": total}, args=_script.args)

del _script  # the script's own names stay out of the notebook
