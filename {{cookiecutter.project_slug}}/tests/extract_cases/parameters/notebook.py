# ---
# jupyter:
#   extract:
#     cell: 5
# ---

# %% [markdown]
# Parameters of every type become options.

# %% tags=["parameters"]
DATASET = "penguins"  # a constant, but in the parameters cell: an option
epochs = 3  # passes over the data

# %%
THRESHOLD = 0.5  # upper case: a constant, stays code
offset = 1  # bound twice in the notebook, once in the script
offset = 2  # the script keeps this last value: an option

# %% [markdown]
# ## Train the model
#
# One pass per epoch.

# %%
alpha = 0.1  # learning rate
label = "run"  # a name for the run
verbose = False  # print every step
limit = None
sizes = [1, 2, 3]  # layer sizes
shape = (4, 5)
names = ["a", "b"]
_private = 7
history = []
for epoch in range(epochs):
    history.append(alpha * epoch * sum(sizes) + offset + THRESHOLD)
    if verbose:
        print(label, epoch, history[-1], limit, shape, names, _private, DATASET)
final = history[-1]
