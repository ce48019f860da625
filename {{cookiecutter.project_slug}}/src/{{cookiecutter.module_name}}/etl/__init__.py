"""Step 0: every raw data file under ``data/raw/`` into one SQLite database, typed and exact.

One module per job, dependencies pointing down:

- :mod:`.pipeline`: the run (what loads into which table, one transaction per table,
  vanished sources, the summary);
- :mod:`.table`: one table's load (staging table, typed inserts, the swap into place);
- :mod:`.rawfiles`: reading raw files (decompression, the header, CSV rows, line limits);
- :mod:`.formats`: JSON Lines, JSON arrays, XML row dumps and your own readers;
- :mod:`.inference`: exact column types, dates and timestamps included.

The database itself (connections, quoting, the manifest) is :mod:`..db`'s.

From Python (what ``invoke etl`` does)::

    from <package> import etl
    print(etl.summary(etl.run()))
"""

from .pipeline import ETL_FORMAT, discover, run, settings_for, summary, table_name
from .table import EtlError, Group, TableReport

__all__ = [
    "ETL_FORMAT",
    "EtlError",
    "Group",
    "TableReport",
    "discover",
    "run",
    "settings_for",
    "summary",
    "table_name",
]
