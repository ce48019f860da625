# ---
# jupyter:
#   extract:
#     cell: 4
# ---

# %%
import random


class Model:
    def __init__(self):
        self.weights = None

    def fit(self, xs):
        self.weights = sum(xs)
        return self


# %%
table = {"a": [3, 1, 2]}
table["b"] = [9, 8]
rows = []
rows.append(4)
n = 1
n += 1
model = Model()
model.fit([1, 2])
model.name = "m"
view = table["a"]
view.sort()
rng = random.Random(0)
random.seed(1)
noise = random.random()
unused = [0]
unused.append(1)

# %%
rng.random()
print(table)
table

# %%
draw = rng.random()
summary = (sorted(table), rows, n, model.weights, model.name, noise)
