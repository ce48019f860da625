# ---
# jupyter:
#   extract:
#     cell: 4
#     name: stats
# ---

# %%
import math
import os.path
import numpy as np
from collections import OrderedDict as OD, Counter
import json, sys

# %%
from statistics import mean  # used
from statistics import median  # not used

# %%
values = np.arange(5)

# %% The statistics
import itertools
pairs = list(itertools.combinations(values.tolist(), 2))
counts = OD(Counter([a + b for a, b in pairs]))
average = mean(math.sqrt(v) for v in counts.values())
where = os.path.basename("/x/y.txt")
