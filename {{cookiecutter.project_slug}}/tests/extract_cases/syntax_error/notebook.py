# ---
# jupyter:
#   extract:
#     cell: 3
# ---

# %%
x = 1

# %%
y = = 2

# %%
z = x + y
