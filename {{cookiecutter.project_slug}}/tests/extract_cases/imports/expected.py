# %%
"""The statistics"""
# Extracted from tests/extract_cases/imports/notebook.py, cell 4, by `invoke extract-cell`
# (re-extract with --force after changing the notebook). Run it with
# `python scripts/stats.py --help`, or in a notebook with
# `%run -i scripts/stats.py`, which shares the notebook's variables.

# %% Imports
import argparse
import math
import os.path
from collections import Counter
from collections import OrderedDict as OD
from statistics import mean

import numpy as np

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

# %% Inputs, from cell 3 of tests/extract_cases/imports/notebook.py
_script.reused = set() if _script.args.fresh else _script.notebook & {"values"}
if _script.reused:
    print(
        f"stats: reusing {', '.join(sorted(_script.reused))} from the notebook "
        "(--fresh recomputes them)"
    )
# cell 3
if "values" not in _script.reused:
    values = np.arange(5)

# %% Cell 4 of tests/extract_cases/imports/notebook.py
import itertools

pairs = list(itertools.combinations(values.tolist(), 2))
counts = OD(Counter([a + b for a, b in pairs]))
average = mean(math.sqrt(v) for v in counts.values())
where = os.path.basename("/x/y.txt")

# %% Save what the cell computed, with the arguments, in results/stats/
results.save(
    "stats",
    {
        "pairs": pairs,
        "counts": counts,
        "average": average,
        "where": where,
    },
    args=_script.args,
)

del _script  # the script's own names stay out of the notebook
