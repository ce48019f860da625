"""The data helpers read the ETL's database into pandas with the right dtypes."""

import csv
import gzip
import io

import pandas as pd
import pytest

from {{ cookiecutter.module_name }} import data, etl, provenance


@pytest.fixture
def loaded(scratch_project):
    """A database with a small table holding NULLs in an INTEGER and a REAL column."""
    (scratch_project.raw / "birds.csv.gz").write_bytes(
        gzip.compress(
            b"id,mass,wing,name\n1,3750,18.5,Ann\n2,,19.25,\n3,3800,,Cy\n4,4000,17.0,Di\n"
        )
    )
    reports = etl.run(quiet=True)
    assert [r.status for r in reports] == ["loaded"]
    return scratch_project


def test_load_gives_numbers_their_dtypes_with_nullable_integers(loaded):
    frame = data.load("birds")
    assert list(frame.columns) == ["id", "mass", "wing", "name"]
    assert str(frame["id"].dtype) == "int64"
    assert str(frame["mass"].dtype) == "Int64"  # NULLs: a nullable integer, not float
    assert str(frame["wing"].dtype) == "float64"
    assert frame["mass"].tolist() == [3750, pd.NA, 3800, 4000]
    assert frame["wing"].isna().tolist() == [False, False, True, False]
    assert frame["name"].tolist()[0] == "Ann" and pd.isna(frame["name"][1])


def test_load_selects_columns_rows_and_a_limit(loaded):
    frame = data.load("birds", columns=["id", "name"], where="mass >= ?", params=(3800,), limit=1)
    assert frame.to_dict("list") == {"id": [3], "name": ["Cy"]}


def test_a_column_null_in_its_first_rows_keeps_its_declared_type(scratch_project):
    text = "a,b\n" + "".join(f"{i},\n" for i in range(3000)) + "3000,2.5\n"
    (scratch_project.raw / "late.csv").write_text(text)
    etl.run(quiet=True)
    frame = data.load("late")
    assert str(frame["b"].dtype) == "float64"
    assert frame["b"].iloc[-1] == 2.5 and frame["b"].isna().sum() == 3000
    queried = data.query("SELECT b FROM late")  # free SQL: read row by row when the driver balks
    assert queried["b"].iloc[-1] == 2.5 and queried["b"].isna().sum() == 3000


def test_query_takes_parameters(loaded):
    frame = data.query("SELECT name, mass FROM birds WHERE id IN (?, ?) ORDER BY id", (1, 4))
    assert frame.to_dict("list") == {"name": ["Ann", "Di"], "mass": [3750, 4000]}


def test_tables_lists_rows_columns_types_and_sources(loaded):
    listing = data.tables()
    assert listing.to_dict("records") == [
        {
            "table": "birds",
            "rows": 4,
            "columns": 4,
            "types": "id INTEGER, mass INTEGER, wing REAL, name TEXT",
            "sources": "data/raw/birds.csv.gz",
            "rejected": 0,
            "loaded": listing["loaded"][0],
        }
    ]


def test_sample_is_reproducible_and_sized(loaded):
    first, again = data.sample("birds", n=2, seed=7), data.sample("birds", n=2, seed=7)
    assert len(first) == 2 and first.equals(again)
    assert set(first["id"]) <= {1, 2, 3, 4}
    assert len(data.sample("birds", frac=0.5, seed=1)) == 2
    every = [tuple(data.sample("birds", n=2, seed=s)["id"]) for s in range(20)]
    assert len(set(every)) > 1  # the seed matters


def test_reading_notes_the_database_and_its_sources_for_provenance(loaded):
    provenance.reset()
    data.load("birds")
    (noted,) = provenance.inputs()
    assert noted["path"] == str(loaded.database.resolve())
    assert noted["sources"][0]["path"] == "data/raw/birds.csv.gz"
    assert len(noted["sources"][0]["sha256"]) == 64


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: data.load("nope"), "no table 'nope' in the database: data.tables() lists them"),
        (lambda: data.load("birds", columns=["x"]), "table 'birds' has no column 'x'"),
        (lambda: data.query("SELEC 1"), "query failed:"),
        (lambda: data.sample("birds"), "sample: give either n (rows) or frac"),
    ],
)
def test_mistakes_are_one_line_errors(loaded, call, message):
    with pytest.raises(data.DataError) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_without_a_database_the_error_says_to_run_etl(scratch_project):
    with pytest.raises(data.DataError, match="run `invoke etl` first"):
        data.tables()


def test_a_file_that_is_not_sqlite_is_one_line_error(scratch_project, tmp_path):
    notes = tmp_path / "notes.sqlite"
    notes.write_text("these are notes, not a database\n" * 10)
    with pytest.raises(data.DataError) as error:
        data.tables(database=notes)
    assert str(error.value) == (
        f"cannot open database {notes}: file is not a database; pass database= the path of an "
        "SQLite file written by `invoke etl`"
    )


def test_the_database_is_opened_read_only(loaded):
    with data.connect() as connection, connection.cursor() as cursor:
        with pytest.raises(Exception, match="readonly"):
            cursor.execute("DELETE FROM birds")
    assert len(data.load("birds")) == 4


def test_the_penguins_load_as_the_notebook_expects(scratch_project):
    """The example's data: 344 penguins, NA as NULL, measurements numeric."""
    from pathlib import Path

    raw = Path(__file__).resolve().parents[1] / "data" / "raw" / "penguins.csv.gz"
    if not raw.exists():  # a project baked without the example has no penguins
        raw_text = "species,bill_length_mm\nAdelie,39.1\nAdelie,NA\n"
        (scratch_project.raw / "penguins.csv").write_text(raw_text)
        expected = list(csv.reader(io.StringIO(raw_text)))
    else:
        (scratch_project.raw / "penguins.csv.gz").write_bytes(raw.read_bytes())
        expected = list(csv.reader(io.StringIO(gzip.decompress(raw.read_bytes()).decode())))
    scratch_project.settings('[tool.PACKAGE.etl.tables.penguins]\nnull_markers = ["NA"]\n')
    etl.run(quiet=True)
    penguins = data.load("penguins")
    assert len(penguins) == len(expected) - 1
    assert str(penguins["bill_length_mm"].dtype) == "float64"
    assert penguins["bill_length_mm"].isna().sum() == sum(
        r[2 if raw.exists() else 1] == "NA" for r in expected[1:]
    )


def test_tables_counts_rows_of_tables_made_by_others_too(loaded):
    import sqlite3

    with sqlite3.connect(loaded.database) as con:
        con.execute("CREATE TABLE mine (a INTEGER)")
        con.executemany("INSERT INTO mine VALUES (?)", [(1,), (2,)])
    listing = data.tables().set_index("table")
    assert listing.loc["mine", "rows"] == 2 and listing.loc["mine", "sources"] == ""
    assert listing.loc["birds", "rows"] == 4


# ---- readers and the ETL never block each other --------------------------------------------------

HOT_JOURNAL = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA cache_size = -100")  # spill early: the file itself is being changed
con.execute("BEGIN IMMEDIATE")
con.execute("DELETE FROM birds")
con.execute("CREATE TABLE big (x)")
con.executemany("INSERT INTO big VALUES (?)", ((i,) for i in range(200_000)))
print("writing", flush=True)
time.sleep(60)
"""


def test_after_a_killed_write_load_and_connect_work_at_once(loaded):
    """A writer killed mid-transaction leaves a hot journal: the first read rolls it back."""
    import signal
    import subprocess
    import sys

    from {{ cookiecutter.module_name }} import paths

    writer = subprocess.Popen(
        [sys.executable, "-c", HOT_JOURNAL, str(paths.DATABASE)], stdout=subprocess.PIPE, text=True
    )
    assert writer.stdout.readline() == "writing\n"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    journal = paths.DATABASE.with_name(paths.DATABASE.name + "-journal")
    assert journal.exists()
    assert len(data.load("birds")) == 4
    assert not journal.exists()
    with data.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM birds")
        assert cursor.fetchone() == (4,)


def test_an_idle_connection_does_not_keep_the_etl_waiting(loaded):
    with data.connect() as connection, connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM birds")
        assert cursor.fetchone() == (4,)
        (loaded.raw / "birds.csv.gz").write_bytes(gzip.compress(b"id\n1\n2\n"))
        assert [(r.status, r.rows) for r in etl.run(quiet=True)] == [("loaded", 2)]
        cursor.execute("SELECT count(*) FROM birds")
        assert cursor.fetchone() == (2,)


READING = """
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN")
con.execute("SELECT count(*) FROM birds").fetchall()  # holds a read lock until the end
print("reading", flush=True)
time.sleep(60)
"""


def test_an_etl_meeting_a_reader_says_what_it_waits_for_then_fails_in_one_line(loaded, capsys):
    import subprocess
    import sys

    from {{ cookiecutter.module_name }} import paths

    loaded.settings("[tool.PACKAGE.etl]\nwait_seconds = 1\n")
    (loaded.raw / "birds.csv.gz").write_bytes(gzip.compress(b"id\n1\n2\n"))
    reader = subprocess.Popen(
        [sys.executable, "-c", READING, str(paths.DATABASE)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout.readline() == "reading\n"
        capsys.readouterr()
        (report,) = etl.run(quiet=True)
    finally:
        reader.kill()
        reader.wait()
    database = paths.relative(paths.DATABASE)
    assert report.error == (
        f"the database {database} is busy: readers in the middle of a query (a notebook's "
        "data.load or SQL) held it for longer than wait_seconds = 1: let it finish (or close "
        f"it), then run again; wait_seconds under [tool.{paths.PACKAGE}.etl] sets the wait"
    )
    assert capsys.readouterr().err == (
        "waiting up to 1 s for readers in the middle of a query (a notebook's data.load or SQL) "
        f"to finish with {database}\n"
    )
    assert len(data.load("birds")) == 4  # the old table, as it was


def test_a_big_load_stalled_by_a_reader_says_so_and_fails_in_one_line(loaded, capsys):
    """A table bigger than SQLite's page cache must write pages out during the load, which a
    reader in a query forbids: the load says what it waits for, then fails in one line."""
    import subprocess
    import sys

    from {{ cookiecutter.module_name }} import paths

    loaded.settings("[tool.PACKAGE.etl]\nwait_seconds = 1\n")
    rows = "".join(f"{i},some text for row {i},{i}.5\n" for i in range(400_000))
    (loaded.raw / "big.csv").write_text("id,text,x\n" + rows)
    holding = READING.replace("time.sleep(60)", "time.sleep(6)")
    reader = subprocess.Popen(
        [sys.executable, "-c", holding, str(paths.DATABASE)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert reader.stdout.readline() == "reading\n"
        capsys.readouterr()
        reports = {r.table: r for r in etl.run(quiet=True)}
    finally:
        reader.kill()
        reader.wait()
    assert reports["big"].error.startswith(
        f"the database {paths.relative(paths.DATABASE)} is busy: readers in the middle of a "
        "query (a notebook's data.load or SQL) held it for longer than wait_seconds = 1"
    )
    assert "waiting up to 1 s for readers in the middle of a query" in capsys.readouterr().err
    assert reports["birds"].status == "skipped"


# ---- dates ---------------------------------------------------------------------------------------


def test_dates_and_timestamps_load_as_datetime64_unless_asked_not_to(scratch_project):
    (scratch_project.raw / "visits.csv").write_text(
        "day,at,zoned,note\n"
        "2024-02-29,2024-02-29 13:45:00.250,2024-02-29T13:45:00+01:00,a\n"
        "1850-01-01,,1999-12-31T23:00:00Z,2024-01-01\n"
    )
    etl.run(quiet=True)
    frame = data.load("visits")
    assert {c: str(t) for c, t in frame.dtypes.items() if c != "note"} == {
        "day": "datetime64[s]",
        "at": "datetime64[us]",
        "zoned": "datetime64[us, UTC]",
    }
    assert frame["note"].tolist() == ["a", "2024-01-01"]  # one date is no date column
    assert frame["day"].tolist() == [pd.Timestamp("2024-02-29"), pd.Timestamp("1850-01-01")]
    assert frame["at"][0] == pd.Timestamp("2024-02-29 13:45:00.250")
    assert frame["at"].isna().tolist() == [False, True]
    assert frame["zoned"].tolist() == [
        pd.Timestamp("2024-02-29T12:45:00Z"),
        pd.Timestamp("1999-12-31T23:00:00Z"),
    ]
    text = data.load("visits", parse_dates=False)
    assert text["day"].tolist() == ["2024-02-29", "1850-01-01"]
