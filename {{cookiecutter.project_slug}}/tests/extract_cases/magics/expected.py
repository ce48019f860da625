# %%
"""Cell 4 of notebook.py, as a script."""
# Extracted from tests/extract_cases/magics/notebook.py, cell 4, by `invoke extract-cell`
# (re-extract with --force after changing the notebook). Run it with
# `python scripts/magics.py --help`, or in a notebook with
# `%run -i scripts/magics.py`, which shares the notebook's variables.

# %% Imports
import argparse
import math

from IPython.display import display

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

# %% Inputs, from cells 2-3 of tests/extract_cases/magics/notebook.py
_script.reused = set() if _script.args.fresh else _script.notebook & {"squares"}
if _script.reused:
    print(
        f"magics: reusing {', '.join(sorted(_script.reused))} from the notebook "
        "(--fresh recomputes them)"
    )
# cell 2
if "squares" not in _script.reused:
    root = math.sqrt(16)  # was: %time root = math.sqrt(16)
    # cell 3
    squares = [i * i for i in range(int(root))]

# %% Cell 4 of tests/extract_cases/magics/notebook.py
# IPython only, not run by this script: %%time
total = sum(squares)  # was: %time total = sum(squares)
# IPython only, not run by this script: !echo done
if total:
    pass  # IPython only, not run by this script: !echo inside a block
    display(total)
half = total / 2

# %% Save what the cell computed, with the arguments, in results/magics/
results.save("magics", {"total": total, "half": half}, args=_script.args)

del _script  # the script's own names stay out of the notebook
