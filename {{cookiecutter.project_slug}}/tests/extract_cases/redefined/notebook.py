# ---
# jupyter:
#   extract:
#     cell: 4
# ---

# %%
x = [1, 2]
y = 0

# %%
x = [10, 20]  # the last definition before the cell wins
x.append(30)

# %%
print(len(x))
x = x + [40]

# %%
result = sum(x) + y

# %%
x = [100]  # after the cell: not part of it
