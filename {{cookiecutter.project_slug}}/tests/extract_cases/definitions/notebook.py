# ---
# jupyter:
#   extract:
#     cell: 3
# ---

# %%
FACTOR = 3
counter = 0


def triple(x):
    """Uses the global FACTOR when called."""
    return x * FACTOR


def bump():
    global counter
    counter += 1


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm(self):
        return (self.x**2 + self.y**2) ** 0.5


# %%
bump()
bump()
square = lambda v: v * v  # noqa: E731

# %%
p = Point(triple(1), square(4))
length = p.norm()
calls = counter
