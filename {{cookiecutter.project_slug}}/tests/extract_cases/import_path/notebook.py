# ---
# jupyter:
#   extract:
#     cell: 3
# ---

# %%
import sys
sys.path.insert(0, "tests/extract_cases/import_path")

# %%
import json
from helpers import double  # a module next to the notebook, found through sys.path

# %%
doubled = double(json.loads("[1, 2]"))
