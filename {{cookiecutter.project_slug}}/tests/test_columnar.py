"""``data.load`` reads a columnar copy of each ETL table: the SQLite read's values, never stale."""

import csv
import logging
import sqlite3
from pathlib import Path

import distributed
import pandas as pd
import pyarrow as pa
import pytest

from {{ cookiecutter.module_name }} import columnar, data, etl, paths
from {{ cookiecutter.module_name }}.settings import SettingsError

MIXED = [
    ["id", "big", "wide", "ratio", "name", "maybe", "note"],
    ["1", "9223372036854775807", "18446744073709551616", "0.1", "Ann", "", "plain"],
    ["2", "-9223372036854775808", "-1", "2.5e-300", "Zoë ✓", "7", ""],
    ["3", "0", "12", "", "O'Brien", "", 'says "hi", twice'],
    ["4", "42", "7", "0.30000000000000004", "", "-3", "line\nbreak"],
    ["5", "-1", "007", "1e308", "Ann", "7", "last"],
]


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)


@pytest.fixture
def mixed(scratch_project):
    """A table with NULLs in every type, 64-bit extremes, a number past 64 bits, 17-digit
    doubles, non-ASCII, quotes and newlines."""
    write_csv(scratch_project.raw / "mixed.csv", MIXED)
    assert [r.status for r in etl.run(quiet=True)] == ["loaded"]
    return scratch_project


def from_sqlite(table: str, **arguments) -> pd.DataFrame:
    """The same read from SQLite: a database named explicitly is read as it is."""
    return data.load(table, database=paths.DATABASE, **arguments)


def copies_of(table: str) -> list[Path]:
    return sorted(p for p in (columnar.folder() / table).glob("*") if p.is_dir())


def test_load_of_an_etl_table_writes_a_copy_with_the_sqlite_reads_dtypes_and_values(mixed):
    assert copies_of("mixed") == []
    frame = data.load("mixed")
    (copy,) = copies_of("mixed")
    pd.testing.assert_frame_equal(frame, from_sqlite("mixed"), check_exact=True)
    assert frame.dtypes.astype(str).to_dict() == {
        "id": "int64",
        "big": "int64",
        "wide": "str",  # past 64 bits: TEXT, as written
        "ratio": "float64",
        "name": "str",
        "maybe": "Int64",
        "note": "str",
    }
    assert frame["big"].tolist() == [2**63 - 1, -(2**63), 0, 42, -1]
    assert frame["wide"].tolist() == ["18446744073709551616", "-1", "12", "7", "007"]
    assert frame["ratio"].tolist()[3] == 0.30000000000000004 and pd.isna(frame["ratio"][2])
    assert frame["note"].tolist()[2:4] == ['says "hi", twice', "line\nbreak"]
    # The copy itself holds the table's rows, in order.
    stored = pa.ipc.open_file(pa.memory_map(str(copy / "part-000000.arrow"))).read_all().to_pydict()
    assert stored["id"] == [1, 2, 3, 4, 5] and stored["maybe"] == [None, 7, None, -3, 7]
    assert data.load("mixed").equals(frame) and copies_of("mixed") == [copy]


def test_the_example_penguins_load_from_the_copy_as_from_sqlite(scratch_project):
    raw = Path(__file__).resolve().parents[1] / "data" / "raw" / "penguins.csv.gz"
    if raw.exists():
        (scratch_project.raw / "penguins.csv.gz").write_bytes(raw.read_bytes())
    else:  # a project baked without the example
        (scratch_project.raw / "penguins.csv").write_text("species,mass\nAdelie,3750\nGentoo,NA\n")
    scratch_project.settings('[tool.PACKAGE.etl.tables.penguins]\nnull_markers = ["NA"]\n')
    etl.run(quiet=True)
    penguins = data.load("penguins")
    assert copies_of("penguins")
    pd.testing.assert_frame_equal(penguins, from_sqlite("penguins"), check_exact=True)
    subset = data.load("penguins", columns=["species"], where="species = 'Gentoo'")
    assert len(subset) == (penguins["species"] == "Gentoo").sum() > 0


def test_a_changed_raw_file_is_never_served_from_the_old_copy(mixed):
    assert data.load("mixed", columns=["name"])["name"][0] == "Ann"
    (old,) = copies_of("mixed")
    changed = [row[:] for row in MIXED]
    changed[1][4] = "Bea"
    write_csv(mixed.raw / "mixed.csv", changed + [["6", "1", "1", "1.5", "Cy", "", ""]])
    assert [r.status for r in etl.run(quiet=True)] == ["loaded"]
    frame = data.load("mixed")
    assert frame["name"].tolist()[0] == "Bea" and frame["id"].tolist()[-1] == 6
    pd.testing.assert_frame_equal(frame, from_sqlite("mixed"), check_exact=True)
    (new,) = copies_of("mixed")  # the old copy is gone
    assert new != old and not old.exists()


def test_a_table_reloaded_with_other_settings_gets_a_new_copy(mixed):
    assert data.load("mixed", columns=["maybe"])["maybe"].isna().sum() == 2
    mixed.settings('[tool.PACKAGE.etl.tables.mixed]\nnull_markers = ["7"]\n')
    etl.run(quiet=True)  # same raw file, other settings: the table loads again
    assert data.load("mixed", columns=["maybe"])["maybe"].isna().sum() == 4


def test_columns_where_and_limit_read_from_the_copy_equal_the_sqlite_read(mixed):
    data.load("mixed")
    cases = [
        dict(columns=["name", "id"]),
        dict(where="id >= ? AND name = ?", params=(2, "Ann")),
        dict(where="maybe IS NULL OR ratio < 1", columns=["id"]),
        dict(where="maybe NOT IN (7, 8)"),  # NULL is in no list, nor outside it
        dict(where="NOT (maybe IN (7)) AND big BETWEEN -5 AND 100"),
        dict(where="\"Name\" IN ('O''Brien', 'Zoë ✓') OR big < -9223372036854775000"),
        dict(where="NAME <> 'Ann'", limit=2),
        dict(where="ratio IS NOT NULL AND ratio > -1.5e0"),
        dict(where="name LIKE 'a%'"),  # SQL the copy cannot evaluate: SQLite does
        dict(where="length(note) > 4", columns=["note"]),
        dict(where="wide > 100"),  # TEXT against a number: SQLite's affinity rules
        dict(limit=3),
    ]
    for arguments in cases:
        got = data.load("mixed", **arguments)
        pd.testing.assert_frame_equal(got, from_sqlite("mixed", **arguments), check_exact=True)
    assert data.load("mixed", where="maybe NOT IN (7, 8)")["id"].tolist() == [4]


def test_pushdown_translates_simple_conditions_and_declines_the_rest():
    declared = {"year": "INTEGER", "species": "TEXT", "mass": "REAL"}
    assert str(columnar.pushdown("year = ?", [2008], declared)) == "(year == 2008)"
    assert str(columnar.pushdown("Species = 'it''s'", [], declared)) == '(species == "it\'s")'
    assert str(columnar.pushdown("mass > -2.5", [], declared)) == "(mass > -2.5)"
    for where, params in [
        ("year = '2008'", []),  # text against an INTEGER column
        ("year = ?", [2008.0]),
        ("year + 1 = 2009", []),
        ("species LIKE 'A%'", []),
        ("year = ?", []),  # a missing parameter
        ("year = ?", [1, 2]),  # one too many
        ("year = 1; DROP TABLE x", []),
        ("unknown = 1", []),
        ("year = NULL", []),
        ("year = ?", [2**63]),  # past 64 bits
        ("mass > ?", [2**53 + 1]),  # a double cannot hold it
    ]:
        assert columnar.pushdown(where, params, declared) is None, where


def test_sample_is_the_same_draw_as_data_sample_and_follows_the_seed(mixed):
    first = data.load("mixed", sample=0.6, seed=3)
    assert len(first) == 3 and first.equals(data.load("mixed", sample=0.6, seed=3))
    pd.testing.assert_frame_equal(first, data.sample("mixed", frac=0.6, seed=3), check_exact=True)
    pd.testing.assert_frame_equal(first, from_sqlite("mixed", sample=0.6, seed=3), check_exact=True)
    draws = {tuple(data.load("mixed", sample=0.4, seed=s)["id"]) for s in range(20)}
    assert len(draws) > 1
    of_matching = data.load("mixed", where="big >= 0", columns=["id"], sample=0.5, seed=1)
    assert len(of_matching) == 2 and set(of_matching["id"]) <= {1, 3, 4}
    assert of_matching.equals(
        from_sqlite("mixed", where="big >= 0", columns=["id"], sample=0.5, seed=1)
    )


@pytest.mark.parametrize("fraction", [1.5, -0.1, "half", True])
def test_a_sample_that_is_not_a_fraction_is_one_line(mixed, fraction):
    with pytest.raises(data.DataError) as caught:
        data.load("mixed", sample=fraction)
    assert str(caught.value) == f"load: sample={fraction!r} is not a fraction between 0 and 1"


def test_copies_can_be_turned_off_for_the_project_or_one_table(scratch_project):
    write_csv(scratch_project.raw / "one.csv", [["a"], ["1"]])
    write_csv(scratch_project.raw / "two.csv", [["b"], ["x"]])
    etl.run(quiet=True)
    scratch_project.settings("[tool.PACKAGE.columnar.tables.one]\nenabled = false\n")
    assert data.load("one")["a"].tolist() == [1] and data.load("two")["b"].tolist() == ["x"]
    assert copies_of("one") == [] and len(copies_of("two")) == 1
    with pytest.raises(data.DataError) as caught:
        data.dask("one")
    assert str(caught.value) == (
        "data.dask('one'): the table has no columnar copy: copies are off for 'one' in "
        f"[tool.{paths.PACKAGE}.columnar] of pyproject.toml"
    )
    scratch_project.settings("[tool.PACKAGE.columnar]\nenabled = false\n")
    assert data.load("one")["a"].tolist() == [1]
    assert copies_of("one") == []
    scratch_project.settings('[tool.PACKAGE.columnar]\nenabled = "no"\n')
    with pytest.raises(SettingsError, match="^enabled = 'no' in .*: Input should be a valid"):
        data.load("one")


def test_a_copy_that_cannot_be_written_warns_and_sqlite_answers(mixed):
    columnar.folder().write_text("a file where the copies' folder would be")
    said = "cannot write the copy of 'mixed' in data/processed/columnar/mixed: Not a directory"
    with pytest.warns(UserWarning) as warned:
        frame = data.load("mixed")
    assert [str(w.message) for w in warned] == [f"{said}; reading it from SQLite"]
    pd.testing.assert_frame_equal(frame, from_sqlite("mixed"), check_exact=True)
    with pytest.warns(UserWarning), pytest.raises(data.DataError) as caught:
        data.dask("mixed")
    assert str(caught.value) == f"data.dask('mixed'): the table has no columnar copy: {said}"


def test_a_table_not_made_by_the_etl_is_read_from_sqlite(mixed):
    with sqlite3.connect(mixed.database) as connection:
        connection.execute("CREATE TABLE mine (a INTEGER, b TEXT)")
        connection.execute("INSERT INTO mine VALUES (1, 'x'), (NULL, 'y')")
    connection.close()
    mine = data.load("mine")
    assert str(mine["a"].dtype) == "Int64" and mine["a"].isna().tolist() == [False, True]
    assert mine["b"].tolist() == ["x", "y"]
    assert copies_of("mine") == []


def test_copies_of_a_table_that_is_gone_are_removed(mixed):
    data.load("mixed")
    write_csv(mixed.raw / "other.csv", [["c"], ["1"]])
    etl.run(quiet=True)
    data.load("other")
    with sqlite3.connect(mixed.database) as connection:
        connection.execute("DROP TABLE mixed")
    connection.close()
    assert columnar.prune() == ["mixed"]
    assert not (columnar.folder() / "mixed").exists() and copies_of("other")
    assert columnar.refresh("other").folder == copies_of("other")[0]
    with sqlite3.connect(mixed.database) as connection:
        connection.execute("DROP TABLE other")
    connection.close()
    assert columnar.refresh("other").folder is None and not (columnar.folder() / "other").exists()


def test_dask_groups_the_copy_on_a_local_cluster_as_pandas_does(scratch_project):
    rows = [["id", "group", "value", "weight"]]
    rows += [
        [str(i), "abcde"[i * 7 % 5], str(i % 13 - 6), "" if i % 9 == 0 else str(i / 8)]
        for i in range(1, 5001)
    ]
    write_csv(scratch_project.raw / "events.csv", rows)
    scratch_project.settings("[tool.PACKAGE.columnar]\nrows_per_file = 1000\n")
    etl.run(quiet=True)
    frame = data.load("events")
    pd.testing.assert_frame_equal(frame, from_sqlite("events"), check_exact=True)
    how = {"id": "count", "value": "sum", "weight": "mean"}
    expected = frame.groupby("group").agg(how)
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=False,  # threads, but the scheduler and workers still talk over TCP
            protocol="tcp",
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        events = data.dask("events")
        assert events.npartitions == 5
        got = events.groupby("group").agg(how).compute()
        assert set(client.scheduler_info()["workers"]) and cluster.scheduler_address.startswith(
            "tcp://127.0.0.1:"
        )
    got = got.sort_index()
    assert got.index.tolist() == expected.index.tolist() == list("abcde")
    assert got["id"].tolist() == expected["id"].tolist()
    assert got["value"].tolist() == expected["value"].tolist()
    assert got["weight"].tolist() == pytest.approx(expected["weight"].tolist(), rel=1e-12)


def test_dask_names_a_missing_column_in_one_line(mixed):
    with pytest.raises(data.DataError, match="^table 'mixed' has no column 'nope': it has id,"):
        data.dask("mixed", columns=["nope"])
