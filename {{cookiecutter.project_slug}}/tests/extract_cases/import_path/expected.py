# %%
"""Cell 3 of notebook.py, as a script."""
# Extracted from tests/extract_cases/import_path/notebook.py, cell 3, by `invoke extract-cell`
# (re-extract with --force after changing the notebook). Run it with
# `python scripts/import_path.py --help`, or in a notebook with
# `%run -i scripts/import_path.py`, which shares the notebook's variables.

# %% Imports
import argparse
import sys

from {{ cookiecutter.module_name }} import results

# %% Parameters
# Under `%run -i` the notebook's names are in globals() (alone: none).
_script = argparse.Namespace(notebook=set(globals()))
_script.parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
_script.args = _script.parser.parse_args()

# %% Inputs, from cells 1-2 of tests/extract_cases/import_path/notebook.py
# cell 1
sys.path.insert(0, "tests/extract_cases/import_path")
# cell 2
import json
from helpers import double  # a module next to the notebook, found through sys.path

# %% Cell 3 of tests/extract_cases/import_path/notebook.py
doubled = double(json.loads("[1, 2]"))

# %% Save what the cell computed, with the arguments, in results/import_path/
results.save("import_path", {"doubled": doubled}, args=_script.args)

del _script  # the script's own names stay out of the notebook
