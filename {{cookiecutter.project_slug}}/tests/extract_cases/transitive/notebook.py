# ---
# jupyter:
#   extract:
#     cell: 4
# ---

# %%
base = 10
unrelated = "not needed"
scale = base * 2
print(unrelated)

# %%
offset = scale + 1
other = offset * 100  # not needed by the cell

# %%
# The series the model reads.
series = [offset * i for i in range(3)]

# %% tags=["model"]
total = sum(series)
