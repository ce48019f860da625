# ---
# jupyter:
#   extract:
#     cell: 2
# ---

# %%
rate = 0.5

# %%
cost = rate * hours

# %%
hours = 40  # run out of order in the notebook
