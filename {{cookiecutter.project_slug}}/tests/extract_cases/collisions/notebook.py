# ---
# jupyter:
#   extract:
#     cell: 2
# ---

# %%
args = ["--fast"]  # the user's own args
parser = "csv"
results = {}

# %%
fresh = True  # a parameter named like the script's own option
results[parser] = len(args)
notebook_names = sorted(results)
