# ---
# jupyter:
#   extract:
#     cell: 2
#     allow_undefined: true
# ---

# %%
scale = 3  # the scale

# %%
scaled = [scale * v for v in data_from_elsewhere]
