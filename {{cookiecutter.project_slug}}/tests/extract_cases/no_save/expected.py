# %%
"""Cell 2 of notebook.py, as a script."""
# Extracted from tests/extract_cases/no_save/notebook.py, cell 2, by `invoke extract-cell`
# (re-extract with --force after changing the notebook). Run it with
# `python scripts/no_save.py --help`, or in a notebook with
# `%run -i scripts/no_save.py`, which shares the notebook's variables.

# %% Imports
import argparse
import statistics

# %% Parameters
# Under `%run -i` the notebook's names are in globals() (alone: none).
_script = argparse.Namespace(notebook=set(globals()))
_script.parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
_script.args = _script.parser.parse_args()

# %% Cell 2 of tests/extract_cases/no_save/notebook.py
mean = statistics.mean([1, 2, 3])
print(mean)

del _script  # the script's own names stay out of the notebook
