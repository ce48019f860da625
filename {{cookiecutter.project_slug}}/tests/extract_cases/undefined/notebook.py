# ---
# jupyter:
#   extract:
#     cell: 3
# ---

# %%
a = 1

# %%
b = a + missing_in_earlier_cell

# %%
c = b + also_missing
d = [also_missing for _ in range(2)]
