# ---
# jupyter:
#   extract:
#     cell: 2
#     save: false
# ---

# %%
import statistics

# %%
mean = statistics.mean([1, 2, 3])
print(mean)
