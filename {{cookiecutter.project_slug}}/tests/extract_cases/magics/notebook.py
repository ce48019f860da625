# ---
# jupyter:
#   extract:
#     cell: 4
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
# ---

# %%
# %matplotlib inline
# %load_ext autoreload
# %autoreload 2
import math

# %%
# %time root = math.sqrt(16)
# !echo not needed
# files = !ls

# %%
# %%time
squares = [i * i for i in range(int(root))]

# %%
# %%time
# %time total = sum(squares)
# !echo done
if total:
    # !echo inside a block
    display(total)
half = total / 2
