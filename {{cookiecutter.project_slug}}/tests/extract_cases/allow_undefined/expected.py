# %%
"""Cell 2 of notebook.py, as a script."""
# Extracted from tests/extract_cases/allow_undefined/notebook.py, cell 2, by `invoke extract-cell`
# (re-extract with --force after changing the notebook). Run it with
# `python scripts/allow_undefined.py --help`, or in a notebook with
# `%run -i scripts/allow_undefined.py`, which shares the notebook's variables.

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
_script.parser.add_argument("--scale", type=int, default=3, help="the scale (default: %(default)s)")
_script.args = _script.parser.parse_args()
scale = _script.args.scale  # from cell 1; the scale
# Extracted with --allow-undefined: data_from_elsewhere must come from the notebook.
_script.missing = sorted({"data_from_elsewhere"} - _script.notebook)
if _script.missing:
    sys.exit(
        f"allow_undefined.py needs {', '.join(_script.missing)} from the notebook: "
        "run it with %run -i in a notebook that defines them"
    )
data_from_elsewhere = globals()["data_from_elsewhere"]

# %% Cell 2 of tests/extract_cases/allow_undefined/notebook.py
scaled = [scale * v for v in data_from_elsewhere]

# %% Save what the cell computed, with the arguments, in results/allow_undefined/
results.save("allow_undefined", {"scaled": scaled}, args=_script.args)

del _script  # the script's own names stay out of the notebook
