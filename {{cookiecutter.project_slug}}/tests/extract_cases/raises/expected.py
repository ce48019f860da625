# %%
"""Cell 2 of notebook.py, as a script."""
# Extracted from tests/extract_cases/raises/notebook.py, cell 2, by `invoke extract-cell`
# (re-extract with --force after changing the notebook). Run it with
# `python scripts/fails.py --help`, or in a notebook with
# `%run -i scripts/fails.py`, which shares the notebook's variables.

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
    "--limit",
    type=int,
    default=2,
    help="largest allowed value (default: %(default)s)",
)
_script.parser.add_argument(
    "--values",
    nargs="*",
    type=int,
    default=[1, 2, 3],
    help="set in cell 2 (default: %(default)s)",
)
_script.args = _script.parser.parse_args()
limit = _script.args.limit  # from cell 1; largest allowed value

# %% Cell 2 of tests/extract_cases/raises/notebook.py
values = _script.args.values
checked = [v for v in values if v <= limit]
if len(checked) < len(values):
    raise ValueError(f"{len(values) - len(checked)} values above {limit}")

# %% Save what the cell computed, with the arguments, in results/fails/
results.save("fails", {"checked": checked}, args=_script.args)

del _script  # the script's own names stay out of the notebook
