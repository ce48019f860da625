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
