# ---
# jupyter:
#   extract:
#     cell: 2
#     name: fails
# ---

# %%
limit = 2  # largest allowed value

# %%
values = [1, 2, 3]
checked = [v for v in values if v <= limit]
if len(checked) < len(values):
    raise ValueError(f"{len(values) - len(checked)} values above {limit}")
