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
notebook_names = set(globals())  # under `%run -i`: the notebook's names (alone: none)
parser = argparse.ArgumentParser(
    description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
)
parser.add_argument(
    "--fresh",
    action="store_true",
    help="recompute the inputs the notebook already holds under %%run -i",
)
args = parser.parse_args()

# %% Inputs, from cell 3 of tests/extract_cases/imports/notebook.py
reused = set() if args.fresh else notebook_names & {"values"}
if reused:
    print(
        f"stats: reusing {', '.join(sorted(reused))} from the notebook "
        "(--fresh recomputes them)"
    )
# cell 3
if "values" not in reused:
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
    args=args,
)
