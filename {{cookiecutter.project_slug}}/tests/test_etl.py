"""`invoke etl`'s library: raw files into SQLite, typed exactly, atomically, with clear errors.

The database is read back with the standard library's sqlite3 module, not with the
package, so these tests do not trust the code they test.
"""

import bz2
import csv
import gzip
import io
import lzma
import os
import re
import shutil
import sqlite3
import zipfile
from contextlib import closing
from pathlib import Path

import matplotlib
import numpy
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.module_name }} import data, etl, paths
from {{ cookiecutter.module_name }} import settings as schema
from {{ cookiecutter.module_name }}.db import quote
from {{ cookiecutter.module_name }}.etl import rawfiles
from {{ cookiecutter.module_name }}.etl.rawfiles import unique_names


def write(path: Path, text: str | bytes) -> Path:
    """Write ``text`` compressed as the suffix says; ``bytes`` are written as they are."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
        return path
    compress = {
        ".gz": gzip.compress,
        ".bz2": bz2.compress,
        ".xz": lzma.compress,
        ".zst": zstandard.ZstdCompressor().compress,
    }.get(path.suffix, lambda data: data)
    path.write_bytes(compress(text.encode()))
    return path


def rows(table: str, database=None) -> list[tuple]:
    with sqlite3.connect(database or paths.DATABASE) as con:
        return con.execute(f"SELECT * FROM {quote(table)} ORDER BY rowid").fetchall()


def types(table: str, database=None) -> dict[str, str]:
    with sqlite3.connect(database or paths.DATABASE) as con:
        return {
            name: kind for _, name, kind, *_ in con.execute(f"PRAGMA table_info({quote(table)})")
        }


def storage(table: str, column: str) -> set[str]:
    with sqlite3.connect(paths.DATABASE) as con:
        return {
            t
            for (t,) in con.execute(f"SELECT DISTINCT typeof({quote(column)}) FROM {quote(table)}")
        }


def run(**options) -> dict[str, etl.TableReport]:
    return {r.table: r for r in etl.run(quiet=True, **options)}


def column_type(scratch, *fields: str) -> str:
    """The type `invoke etl` gives a one-column file holding ``fields``."""
    write(scratch.raw / "one.csv", "x\n" + "\n".join(fields) + "\n")
    report = run(force=True)["one"]
    assert report.status == "loaded", report.error
    return types("one")["x"]


# ---- exact types ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, expected",
    [
        (["1", "-2", "0", "9223372036854775807", "-9223372036854775808"], "INTEGER"),
        (["1", "007"], "TEXT"),  # leading zeros are kept: an INTEGER column would store 7
        (["1", "+5"], "TEXT"),
        (["1", " 5"], "TEXT"),
        (["1", "0x1f"], "TEXT"),
        (["1", "9223372036854775808"], "TEXT"),  # beyond 64 bits, and not exact as a double
        (["1", "-0"], "REAL"),  # -0 is a number, but not an integer's canonical text
        (["1", "2.5"], "REAL"),
        (["1.50", "1e5", "0.1", "-.5", "8.3945900000000009"], "REAL"),
        (["1", "9007199254740993", "1.5"], "TEXT"),  # 2**53 + 1 has no double
        (["1.5", "0.10000000000000000001"], "TEXT"),
        (["1.5", "1e400"], "TEXT"),
        (["1.5", "inf"], "TEXT"),
        (["1.5", "nan"], "TEXT"),
        (["1.5", "01.5"], "TEXT"),
        (["1", "1_000"], "TEXT"),
        (["١٢"], "TEXT"),  # Arabic-Indic digits are text
        (["1", "NA"], "TEXT"),
    ],
)
def test_each_column_gets_the_narrowest_type_that_keeps_every_value(
    scratch_project, fields, expected
):
    assert column_type(scratch_project, *fields) == expected


def test_values_come_back_exactly_as_written(scratch_project):
    """Integers, doubles, texts with leading zeros, -0 and huge integers survive unchanged."""
    write(
        scratch_project.raw / "exact.csv",
        "i,r,t,z,big\n1,1.50,007,-0,123456789012345678901234567890\n-9223372036854775808,1e5,a,0.0,1\n",
    )
    run()
    assert types("exact") == {"i": "INTEGER", "r": "REAL", "t": "TEXT", "z": "REAL", "big": "TEXT"}
    (first, second) = rows("exact")
    assert first == (1, 1.5, "007", -0.0, "123456789012345678901234567890")
    assert str(first[3]) == "-0.0"  # the sign of zero is kept
    assert second == (-9223372036854775808, 100000.0, "a", 0.0, "1")
    assert storage("exact", "r") == {"real"} and storage("exact", "i") == {"integer"}


def late(kind: str, count: int = 30_000) -> str:
    return "\n".join(kind for _ in range(count))


@pytest.mark.parametrize(
    "early, last, expected, storage_types",
    [
        ("12", "2.5", "REAL", {"real"}),  # integers written early are read as doubles
        ("12", "x", "TEXT", {"text"}),  # ... or turned back into their text
        ("1.50", "x", "TEXT", {"text"}),  # doubles do not keep "1.50": the table loads again
        ("9007199254740993", "2.5", "TEXT", {"text"}),  # too big for a double: TEXT
    ],
)
def test_a_type_demoted_in_the_last_row_keeps_every_earlier_value(
    scratch_project, early, last, expected, storage_types
):
    """30,000 rows of one kind, then one that does not fit: the early values are exact too."""
    write(scratch_project.raw / "late.csv.gz", f"v\n{late(early)}\n{last}\n")
    run()
    assert types("late") == {"v": expected}
    values = [v for (v,) in rows("late")]
    assert len(values) == 30_001
    assert storage("late", "v") == storage_types
    if expected == "TEXT":
        assert values == [early] * 30_000 + [last]
    else:
        assert values == [float(early)] * 30_000 + [float(last)]


FIELD = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(-1e6, 1e6).map(lambda f: f"{f:.3f}"),
    st.sampled_from(
        ["", "NA", "007", "-0", "+1", " 2", "1e5", "0.0", "1.50", '"', "a,b", "x\ny", "é"]
    ),
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=8),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(FIELD, min_size=3, max_size=3), min_size=1, max_size=30))
def test_every_field_survives_as_pythons_csv_module_reads_it(scratch_project, table):
    """Property: write rows with csv.writer; each loaded value is the field csv.reader reads
    back (as text, or as a number whose canonical form is that text), NULL only for ''."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer).writerows([["a", "b", "c"], *table])
    path = write(scratch_project.raw / "prop.csv", buffer.getvalue())
    expected = list(csv.reader(io.StringIO(path.read_bytes().decode(), newline="")))[1:]
    expected = [r for r in expected if r]  # csv.reader yields [] for a blank line; so do we skip it
    report = run(force=True).get("prop")
    if not expected:
        assert report.status == "failed" and "no data rows" in report.error
        return
    assert report.status == "loaded", report.error
    declared = types("prop")
    loaded = rows("prop")
    assert len(loaded) == len(expected)
    for got_row, want_row in zip(loaded, expected, strict=True):
        for name, got, want in zip("abc", got_row, want_row, strict=True):
            if want == "":
                assert got is None
            elif declared[name] == "INTEGER":
                assert isinstance(got, int) and str(got) == want
            elif declared[name] == "REAL":
                assert isinstance(got, float) and float(want) == got and want.strip() == want
            else:
                assert got == want
    for index, name in enumerate("abc"):
        fields = [r[index] for r in expected if r[index] != ""]
        integers = all(re.fullmatch(r"-?[0-9]+", f) for f in fields)
        if fields and integers and all(f == str(int(f)) and abs(int(f)) < 2**63 for f in fields):
            assert declared[name] == "INTEGER", fields


# ---- missing values ------------------------------------------------------------------------------


def test_a_column_spoiled_only_by_na_loads_as_text_and_the_summary_says_how_to_fix_it(
    scratch_project,
):
    write(scratch_project.raw / "birds.csv", "mass,name\n3750,a\nNA,b\n3800,NA\n")
    report = run()["birds"]
    assert types("birds") == {"mass": "TEXT", "name": "TEXT"}
    assert report.hints == [
        "birds: column 'mass' holds numbers but also 'NA' (1 rows), so it loaded as TEXT; "
        'to read them as NULL add null_markers = ["NA"] under '
        f"[tool.{paths.PACKAGE}.etl.tables.birds] in pyproject.toml"
    ]
    assert "null_markers" in etl.summary(list(run(force=True).values()))


def test_null_markers_make_the_column_numeric(scratch_project):
    scratch_project.settings(
        """
        [tool.PACKAGE.etl.tables.birds]
        null_markers = ["NA"]
        """
    )
    write(scratch_project.raw / "birds.csv", "mass,name\n3750,a\nNA,b\n3800,\n")
    report = run()["birds"]
    assert report.hints == []
    assert types("birds") == {"mass": "INTEGER", "name": "TEXT"}
    assert rows("birds") == [(3750, "a"), (None, "b"), (3800, None)]


def test_empty_fields_can_be_kept_as_empty_text(scratch_project):
    scratch_project.settings("[tool.PACKAGE.etl]\nempty_is_null = false\n")
    write(scratch_project.raw / "e.csv", "a,b\n1,\n2,x\n")
    run()
    assert rows("e") == [(1, ""), (2, "x")]


def test_types_in_the_settings_override_inference(scratch_project):
    scratch_project.settings('[tool.PACKAGE.etl.tables.zips]\ntypes = {zip = "TEXT", n = "REAL"}\n')
    write(scratch_project.raw / "zips.csv", "zip,n\n12345,1\n02134,2\n")
    run()
    assert types("zips") == {"zip": "TEXT", "n": "REAL"}
    assert rows("zips") == [("12345", 1.0), ("02134", 2.0)]


def test_a_value_that_does_not_fit_a_set_type_is_a_bad_line(scratch_project):
    scratch_project.settings('[tool.PACKAGE.etl.tables.n]\ntypes = {n = "INTEGER"}\n')
    write(scratch_project.raw / "n.csv", "n\n1\n2\nthree\n")
    report = run()["n"]
    assert report.status == "failed"
    assert (
        "data/raw/n.csv line 4: column 'n': 'three' is not INTEGER (types setting)" in report.error
    )


# ---- names ---------------------------------------------------------------------------------------


def test_duplicate_and_empty_header_names_get_unique_names():
    assert unique_names(["col", "col", "", "COL", "column_3"]) == [
        "col",
        "col_2",
        "column_3",
        "COL_3",
        "column_3_2",
    ]


def test_the_header_mapping_is_recorded_in_the_manifest(scratch_project):
    write(scratch_project.raw / "dup.csv", "a,a,\n1,2,3\n")
    run()
    assert list(types("dup")) == ["a", "a_2", "column_3"]
    with sqlite3.connect(paths.DATABASE) as con:
        (columns,) = con.execute(
            "SELECT columns FROM _etl_manifest WHERE table_name = 'dup'"
        ).fetchone()
    assert '"name": "a_2", "header": "a"' in columns


def test_a_hostile_header_is_only_a_column_name(scratch_project):
    """Identifiers are quoted: this header makes a column of that name and nothing else happens."""
    write(scratch_project.raw / "safe.csv", "x\n1\n")
    run()
    evil = 'a"; DROP TABLE safe; --'
    write(scratch_project.raw / "evil.csv", f'"{evil.replace(chr(34), chr(34) * 2)}",b\n1,2\n')
    run()
    assert list(types("evil")) == [evil, "b"]
    assert rows("safe") == [(1,)]


@pytest.mark.parametrize(
    "name, table",
    [
        ("Tweets 2015.csv.gz", "tweets_2015"),
        ("2015.tsv", "t_2015"),
        ("Café-Data.CSV", "cafe_data"),
        ("a.b.csv.zip", "a_b"),
        ("sqlite_x.csv", "t_sqlite_x"),
    ],
)
def test_table_names_come_from_file_names(name, table):
    assert etl.table_name(name) == table


def test_two_files_with_one_table_name_are_an_error_that_names_both(scratch_project):
    write(scratch_project.raw / "a b.csv", "x\n1\n")
    write(scratch_project.raw / "a_b.csv.gz", "x\n2\n")
    write(scratch_project.raw / "ok.csv", "x\n3\n")
    reports = run()
    assert reports["a_b"].status == "failed"
    assert reports["a_b"].error.startswith(
        "table a_b: data/raw/a b.csv and data/raw/a_b.csv.gz would both"
    )
    assert rows("ok") == [(3,)]


# ---- formats -------------------------------------------------------------------------------------

TEXT = 'id,name,score\n1,Ann,2.5\n2,"Bob, Jr.",3\n3,"multi\nline",\n'
EXPECTED = [(1, "Ann", 2.5), (2, "Bob, Jr.", 3.0), (3, "multi\nline", None)]


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zst"])
def test_each_compression_loads_the_same_rows(scratch_project, suffix):
    write(scratch_project.raw / f"t{suffix}", TEXT)
    run()
    assert rows("t") == EXPECTED


def test_a_zip_with_one_member_loads(scratch_project):
    with zipfile.ZipFile(scratch_project.raw / "t.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner.csv", TEXT)
    run()
    assert rows("t") == EXPECTED


@pytest.mark.parametrize(
    "name, data",
    [
        ("bom.csv", b"\xef\xbb\xbf" + TEXT.encode()),
        ("crlf.csv", TEXT.replace("\n", "\r\n").encode()),
        ("tabs.tsv", TEXT.replace(",", "\t").replace('"Bob\t Jr."', "Bob, Jr.").encode()),
        ("semicolons.csv", TEXT.replace(",", ";").replace('"Bob; Jr."', '"Bob, Jr."').encode()),
        ("utf16.csv", TEXT.encode("utf-16")),
        ("noeol.csv", TEXT.encode() + b"4,Dee,1"),
    ],
)
def test_csv_as_found_in_the_wild(scratch_project, name, data):
    """BOM, CRLF, tabs, semicolons, UTF-16 and a last line without a line end."""
    write(scratch_project.raw / name, data)
    report = run()[etl.table_name(name)]
    assert report.status == "loaded", report.error
    expected = [
        EXPECTED[0],
        EXPECTED[1],
        (3, "multi\r\nline" if "crlf" in name else "multi\nline", None),
    ]
    assert list(types(etl.table_name(name))) == ["id", "name", "score"]
    assert rows(etl.table_name(name)) == expected + ([(4, "Dee", 1.0)] if "noeol" in name else [])


def test_a_configured_encoding_is_used(scratch_project):
    scratch_project.settings('[tool.PACKAGE.etl.tables.latin]\nencoding = "latin-1"\n')
    write(scratch_project.raw / "latin.csv", "name\nCaf\xe9\n".encode("latin-1"))
    run()
    assert rows("latin") == [("Café",)]


def test_matplotlibs_stock_prices_load_exactly(scratch_project):
    """Real data written by others: matplotlib's sample msft.csv (dates, '29.50', volumes)."""
    source = Path(matplotlib.get_data_path()) / "sample_data" / "msft.csv"
    (scratch_project.raw / "msft.csv").write_bytes(source.read_bytes())
    run()
    assert types("msft") == {
        "Date": "TEXT",
        "Open": "REAL",
        "High": "REAL",
        "Low": "REAL",
        "Close": "REAL",
        "Volume": "INTEGER",
        "Adj. Close*": "REAL",
    }
    expected = list(csv.reader(source.read_text().splitlines()))[1:]
    assert [(r[0], repr(r[4]), str(r[5])) for r in rows("msft")][:2] == [
        (expected[0][0], "29.96", expected[0][5]),
        (expected[1][0], "29.5", expected[1][5]),
    ]
    assert len(rows("msft")) == len(expected)


def test_a_comment_line_before_the_header_is_skipped_by_setting(scratch_project):
    """matplotlib's Stocks.csv starts with '# Data source...': skip_rows = 1."""
    scratch_project.settings("[tool.PACKAGE.etl.tables.stocks]\nskip_rows = 1\n")
    source = Path(matplotlib.get_data_path()) / "sample_data" / "Stocks.csv"
    (scratch_project.raw / "stocks.csv").write_bytes(source.read_bytes())
    run()
    expected = list(csv.reader(source.read_text().splitlines()))[2:]
    loaded = rows("stocks")
    assert len(loaded) == len(expected)
    assert types("stocks")["IBM"] == "REAL"
    for got, want in zip(loaded, expected, strict=True):
        assert [None if w == "" else float(w) for w in want[1:]] == list(got[1:])


def test_numpys_hex_test_vectors_stay_text(scratch_project):
    """numpy's mt19937 test set: ' 0xc816921f' (with its space) is text, the seeds integers."""
    source = Path(numpy.__file__).parent / "random" / "tests" / "data" / "mt19937-testset-1.csv"
    (scratch_project.raw / "mt.csv").write_bytes(source.read_bytes())
    run()
    assert types("mt") == {"seed": "INTEGER", " 0xdeadbeaf": "TEXT"}
    assert rows("mt")[:2] == [(0, " 0xc816921f"), (1, " 0xb3623c6d")]


# ---- parts ---------------------------------------------------------------------------------------


def test_a_folder_of_parts_loads_into_one_table(scratch_project):
    for n in range(3):
        write(
            scratch_project.raw / "tweets" / f"part-000{n}.csv.gz",
            f"id,text\n{n},t{n}\n{n + 10},u\n",
        )
    reports = run()
    assert reports["tweets"].rows == 6
    assert rows("tweets") == [(0, "t0"), (10, "u"), (1, "t1"), (11, "u"), (2, "t2"), (12, "u")]
    with sqlite3.connect(paths.DATABASE) as con:
        parts = con.execute("SELECT path, part, rows FROM _etl_manifest ORDER BY part").fetchall()
    assert parts == [(f"data/raw/tweets/part-000{n}.csv.gz", n, 2) for n in range(3)]


def test_parts_with_different_headers_are_an_error_naming_the_part(scratch_project):
    write(scratch_project.raw / "t" / "a.csv", "id,text\n1,x\n")
    write(scratch_project.raw / "t" / "b.csv", "id,body\n2,y\n")
    report = run()["t"]
    assert report.status == "failed"
    assert report.error.startswith(
        "data/raw/t/b.csv: its header differs from data/raw/t/a.csv's at column 2"
    )


# ---- bad input -----------------------------------------------------------------------------------


def bad(scratch, name: str, data: bytes | str, mode: str = "error") -> etl.TableReport:
    write(scratch.raw / "good.csv", "x\n1\n")
    write(scratch.raw / name, data)
    reports = run(on_bad_lines=mode)
    assert reports["good"].status in ("loaded", "skipped")
    assert rows("good") == [(1,)]
    return reports[etl.table_name(name)]


def truncated(data: bytes) -> bytes:
    return data[: len(data) * 2 // 3]


BIG = "a,b\n" + "".join(f"{i},{i * 7}\n" for i in range(20_000))


@pytest.mark.parametrize(
    "name, data, message",
    [
        (
            "ragged.csv",
            "a,b\n1,2\n3\n4,5\n",
            "data/raw/ragged.csv line 3: expected 2 fields, found 1: b'3' "
            "(fix the file, or run with "
            "on_bad_lines='skip' to load the other lines)",
        ),
        (
            "bytes.csv",
            b"a,b\n1,2\n3,caf\xe9\n",
            "data/raw/bytes.csv line 3: byte b'\\xe9' is not valid utf-8 (if the file is in "
            'another encoding, set encoding = "latin-1" or its name in the table\'s settings): '
            "b'3,caf\\xe9'",
        ),
        (
            "cut.csv.gz",
            truncated(gzip.compress(BIG.encode())),
            "data/raw/cut.csv.gz: the file is damaged or cut short",
        ),
        (
            "cut.csv.bz2",
            truncated(bz2.compress(BIG.encode())),
            "data/raw/cut.csv.bz2: the file is damaged or cut short",
        ),
        (
            "cut.json.gz",
            truncated(gzip.compress(b'[{"a": 1}]')),
            "data/raw/cut.json.gz: the file is damaged or cut short",
        ),
        (
            "empty.csv",
            b"",
            "data/raw/empty.csv: is empty (0 bytes): remove it or replace it with the real data",
        ),
        ("blank.csv", "\n\n", "data/raw/blank.csv: holds no header line (only blank lines)"),
        (
            "wide.csv",
            ",".join(f"c{i}" for i in range(2500)) + "\n" + ",".join("1" * 2500) + "\n",
            "data/raw/wide.csv line 1: 2,500 columns, more than SQLite's limit of 2,000 per "
            "table: list the ones to load in columns = [...] under "
            "[tool.PACKAGE.etl.tables.wide]",
        ),
        (
            "nul.csv",
            b"a,b\x00c\n1,2\n",
            "data/raw/nul.csv line 1: the name of column 2 holds a NUL byte (b'b\\x00c'): is the "
            'file UTF-16 without a byte-order mark? set encoding = "utf-16" (or its encoding), or '
            "name the columns with columns = [...] and header = false, in the table's settings",
        ),
        (
            "deep.jsonl",
            '{"a": 1}\n{"a": ' + "[" * 5000 + "]" * 5000 + "}\n",
            "data/raw/deep.jsonl line 2: nested deeper than Python's JSON parser can read: "
            'b\'{"a": [[[[',
        ),
        (
            "endless.csv.gz",
            gzip.compress(b"a,b\n1,2\n" + b"x" * (3 << 20)),
            "data/raw/endless.csv.gz line 3: a line longer than max_line_mb = 1 (MB): is it "
            "really a table (a file that expands to one endless line)? If it is real, "
            "raise max_line_mb in the table's settings",
        ),
    ],
)
def test_bad_input_fails_its_file_alone_with_a_message_naming_the_line(
    scratch_project, name, data, message
):
    scratch_project.settings("[tool.PACKAGE.etl]\nmax_line_mb = 1\n")
    report = bad(scratch_project, name, data)
    assert report.status == "failed"
    assert message.replace("PACKAGE", paths.PACKAGE) in report.error
    with sqlite3.connect(paths.DATABASE) as con:
        assert not con.execute(
            "SELECT 1 FROM sqlite_schema WHERE name = ?", (report.table,)
        ).fetchall()
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_a_zip_with_several_members_is_refused(scratch_project):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", "x\n1\n")
        archive.writestr("b.csv", "x\n2\n")
    report = bad(scratch_project, "two.zip", buffer.getvalue())
    assert report.error == (
        "data/raw/two.zip: a .zip must hold exactly one data file, "
        "this one holds 2 (a.csv, b.csv): "
        "unzip it into a folder of parts instead"
    )


def test_an_unreadable_file_is_reported(scratch_project):
    """A link to a file that is gone (root reads any file, so a mode of 000 would prove nothing)."""
    write(scratch_project.raw / "good.csv", "x\n1\n")
    (scratch_project.raw / "gone.csv").symlink_to(scratch_project.root / "nowhere.csv")
    report = run()["gone"]
    assert (
        report.error
        == "data/raw/gone.csv: cannot read it (No such file or directory): check the file"
    )


def test_a_pipe_named_like_a_data_file_is_refused_without_blocking(scratch_project):
    os.mkfifo(scratch_project.raw / "pipe.csv")
    report = run()["pipe"]
    assert report.error.startswith("data/raw/pipe.csv: is not a regular file")


def test_skip_writes_every_rejected_line_with_its_number_and_reason(scratch_project):
    data = b"a,b\n1,2\n3\n4,5\n6,caf\xe9\n7,8,9\n10,11\n"
    report = bad(scratch_project, "ragged.csv", data, mode="skip")
    assert (report.status, report.rows, report.rejected) == ("loaded", 3, 3)
    assert rows("ragged") == [(1, 2), (4, 5), (10, 11)]
    rejects = (paths.PROCESSED_DIR / "rejects" / "ragged.csv").read_text(
        encoding="utf-8", errors="surrogateescape"
    )
    assert list(csv.reader(io.StringIO(rejects)))[:2] == [
        ["file", "line", "reason", "text"],
        ["data/raw/ragged.csv", "3", "expected 2 fields, found 1", "3"],
    ]
    fifth = list(csv.reader(io.StringIO(rejects)))[2]
    assert fifth[:2] == ["data/raw/ragged.csv", "5"]
    assert fifth[2].startswith("byte b'\\xe9' is not valid utf-8")
    assert "3 lines rejected (see data/processed/rejects/ragged.csv)" in etl.summary([report])
    with sqlite3.connect(paths.DATABASE) as con:
        assert con.execute(
            "SELECT rows, rejected FROM _etl_manifest WHERE table_name='ragged'"
        ).fetchone() == (3, 3)


def test_a_truncated_file_fails_even_when_skipping(scratch_project):
    report = bad(scratch_project, "cut.csv.gz", truncated(gzip.compress(BIG.encode())), mode="skip")
    assert report.status == "failed" and "cut short" in report.error


# ---- manifest, skipping and atomic replacement ---------------------------------------------------


def test_the_manifest_records_each_source(scratch_project):
    path = write(scratch_project.raw / "m.csv.gz", "a\n1\n2\n")
    run()
    with sqlite3.connect(paths.DATABASE) as con:
        con.row_factory = sqlite3.Row
        entry = dict(con.execute("SELECT * FROM _etl_manifest").fetchone())
    import hashlib

    assert entry["path"] == "data/raw/m.csv.gz"
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (entry["size"], entry["rows"], entry["rejected"]) == (path.stat().st_size, 2, 0)
    assert entry["mtime_ns"] == path.stat().st_mtime_ns
    assert entry["tool"].startswith(f"{paths.PACKAGE}.etl ")
    assert entry["started"] <= entry["finished"]


def test_unchanged_files_are_skipped_and_changed_ones_reload(scratch_project):
    write(scratch_project.raw / "a.csv", "x\n1\n")
    write(scratch_project.raw / "b.csv", "x\n2\n")
    assert {t: r.status for t, r in run().items()} == {"a": "loaded", "b": "loaded"}
    assert {t: r.status for t, r in run().items()} == {"a": "skipped", "b": "skipped"}
    write(scratch_project.raw / "b.csv", "x\n3\n4\n")
    assert {t: r.status for t, r in run().items()} == {"a": "skipped", "b": "loaded"}
    assert rows("b") == [(3,), (4,)]
    assert {t: r.status for t, r in run(force=True).items()} == {"a": "loaded", "b": "loaded"}
    scratch_project.settings('[tool.PACKAGE.etl.tables.a]\ntypes = {x = "TEXT"}\n')
    assert {t: r.status for t, r in run().items()} == {"a": "loaded", "b": "skipped"}


def test_a_failed_reload_keeps_the_old_table(scratch_project):
    write(scratch_project.raw / "keep.csv", "x\n1\n")
    run()
    write(scratch_project.raw / "keep.csv", "x\n1\n2,3\n")
    assert run()["keep"].status == "failed"
    assert rows("keep") == [(1,)]


def test_names_limit_the_run(scratch_project):
    write(scratch_project.raw / "a.csv", "x\n1\n")
    write(scratch_project.raw / "b.csv", "x\n2\n")
    assert list(run(names=["b"])) == ["b"]
    with pytest.raises(etl.EtlError, match="no data file or folder in data/raw for 'c'"):
        run(names=["c"])


def test_an_index_is_created_when_configured(scratch_project):
    scratch_project.settings('[tool.PACKAGE.etl.tables.ix]\nindex = ["a", ["a", "b"]]\n')
    write(scratch_project.raw / "ix.csv", "a,b\n1,2\n")
    run()
    with sqlite3.connect(paths.DATABASE) as con:
        names = {n for (n,) in con.execute("SELECT name FROM sqlite_schema WHERE type = 'index'")}
    assert {"ix_a", "ix_a_b"} <= names


def test_an_unknown_setting_is_refused_with_the_valid_ones(scratch_project):
    scratch_project.settings("[tool.PACKAGE.etl.tables.a]\nnull_marker = ['NA']\n")
    write(scratch_project.raw / "a.csv", "x\n1\n")
    error = run()["a"].error
    assert error.startswith(
        f"null_marker = ['NA'] in [tool.{paths.PACKAGE}.etl.tables.a] of pyproject.toml: "
        "unknown setting; the settings are: columns, dates, delimiter,"
    )


@pytest.mark.parametrize(
    "setting, shown, problem",
    [
        ('delimiter = ";;"', "delimiter = ';;'", "String should have at most 1 character"),
        ("quote = ''", "quote = ''", "String should have at least 1 character"),
        ('encoding = "klingon"', "encoding = 'klingon'", "not a known encoding: use a Python "
         'codec name such as "utf-8" or "latin-1"'),
        ('null_markers = "NA"', "null_markers = 'NA'", "Input should be a valid list"),
        ("null_markers = [1]", "null_markers.0 = 1", "Input should be a valid string"),
        ('columns = "x"', "columns = 'x'", "Input should be a valid list"),
        ('header = "no"', "header = 'no'", "Input should be a valid boolean"),
        ("skip_rows = -1", "skip_rows = -1", "Input should be greater than or equal to 0"),
        ("max_line_mb = 0", "max_line_mb = 0", "Input should be greater than 0"),
        ('types = {x = "DATE"}', "types.x = 'DATE'", "Input should be 'INTEGER', 'REAL' or 'TEXT'"),
    ],
)  # fmt: skip
def test_a_wrong_setting_value_is_one_line_naming_table_key_value_and_fix(
    scratch_project, setting, shown, problem
):
    """A table's wrong setting fails that table alone; the other tables load."""
    scratch_project.settings(f"[tool.PACKAGE.etl.tables.a]\n{setting}\n")
    write(scratch_project.raw / "a.csv", "x\n1\n")
    write(scratch_project.raw / "b.csv", "x\n1\n")
    reports = run()
    where = f"tool.{paths.PACKAGE}.etl.tables.a"
    assert reports["a"].error == f"{shown} in [{where}] of pyproject.toml: {problem}"
    assert reports["b"].status == "loaded"


def test_a_wrong_default_is_one_error_naming_the_etl_section(scratch_project):
    scratch_project.settings('[tool.PACKAGE.etl]\nextensions = ".csv"\n')
    write(scratch_project.raw / "a.csv", "x\n1\n")
    with pytest.raises(schema.SettingsError) as error:
        run()
    assert str(error.value) == (
        f"extensions = '.csv' in [tool.{paths.PACKAGE}.etl] of pyproject.toml: "
        "Input should be a valid list"
    )


def test_a_bad_line_in_a_later_part_is_skipped_and_earlier_parts_stay(scratch_project):
    """The second part falls back on the careful reader; the first part's rows are kept once."""
    write(scratch_project.raw / "p" / "1.csv", "a,b\n" + "".join(f"{i},{i}\n" for i in range(5000)))
    write(scratch_project.raw / "p" / "2.csv", "a,b\n5000,x\n5001\n5002,y\n")
    report = run(on_bad_lines="skip")["p"]
    assert (report.status, report.rows, report.rejected) == ("loaded", 5002, 1)
    assert types("p") == {"a": "INTEGER", "b": "TEXT"}
    loaded = rows("p")
    assert loaded[:2] == [(0, "0"), (1, "1")] and loaded[-2:] == [(5000, "x"), (5002, "y")]


def test_another_database_file_can_be_named(scratch_project, tmp_path):
    write(scratch_project.raw / "a.csv", "x\n1\n")
    other = tmp_path / "elsewhere" / "other.sqlite"
    run(database=other)
    assert rows("a", other) == [(1,)]
    assert not paths.DATABASE.exists()


@pytest.mark.parametrize(
    "where, reason",
    [
        ("folder", "it is a folder"),
        ("text", "file is not a database"),
        ("/proc/nope/x.sqlite", "No such file or directory"),
    ],
)
def test_a_database_that_cannot_be_opened_is_one_line_error(scratch_project, where, reason):
    write(scratch_project.raw / "a.csv", "x\n1\n")
    database = {
        "folder": scratch_project.root / "a-folder",
        "text": scratch_project.root / "notes.sqlite",
    }.get(where, Path(where))
    if where == "folder":
        database.mkdir()
    elif where == "text":
        database.write_text("these are notes, not a database\n" * 10)
    with pytest.raises(etl.EtlError) as error:
        run(database=database)
    assert str(error.value) == (
        f"cannot open database {database}: {reason}; give database= the path of an SQLite file, "
        "or of a new file in a folder you can write"
    )


def test_txt_files_load_when_configured_with_their_delimiter_guessed(scratch_project):
    write(scratch_project.raw / "notes.txt", "a\tb\n1\tx\n")
    with pytest.raises(etl.EtlError, match="no data files"):
        run()
    scratch_project.settings('[tool.PACKAGE.etl]\nextensions = [".csv", ".txt"]\n')
    run()
    assert rows("notes") == [(1, "x")]


def test_bz2_loads_with_the_standard_library_when_lbzip2_is_absent(scratch_project, monkeypatch):
    """bz2 goes through lbzip2 (all cores) when installed, else through the bz2 module."""
    monkeypatch.setattr(rawfiles.shutil, "which", lambda name: None)
    write(scratch_project.raw / "plain.csv.bz2", "a,b\n1,x\n")
    write(scratch_project.raw / "cut.csv.bz2", truncated(bz2.compress(BIG.encode())))
    reports = run()
    assert rows("plain") == [(1, "x")]
    assert "the file is damaged or cut short" in reports["cut"].error


def child_commands() -> set[str]:
    """The command names of this process's running children, read from Linux's /proc."""
    names = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        command, _, rest = text.rpartition(")")
        if int(rest.split()[1]) == os.getpid():  # the field after the state is the parent's pid
            names.add(command.partition("(")[2])
    return names


def test_bz2_goes_through_lbzip2_when_it_is_installed(scratch_project):
    """Where lbzip2 is on PATH (dev.py installs it) a lbzip2 process decompresses the file;
    elsewhere the bz2 module does, with no child process. Either way the bytes are exact."""
    path = write(scratch_project.raw / "big.csv.bz2", BIG)
    with rawfiles.open_source(path, "big.csv.bz2") as source:
        first = source.stream.read(4)
        running = child_commands()
        text = first + source.stream.read()
    assert text == BIG.encode()
    assert ("lbzip2" in running) == (shutil.which("lbzip2") is not None)
    write(scratch_project.raw / "cut.csv.bz2", truncated(bz2.compress(BIG.encode())))
    reports = run()
    assert (reports["big"].status, reports["big"].rows) == ("loaded", 20_000)
    assert rows("big")[-1] == (19_999, 139_993)
    assert "the file is damaged or cut short" in reports["cut"].error
    assert "lbzip2" not in child_commands()  # closed with the file


def test_a_database_locked_by_another_writer_is_one_clear_error(scratch_project):
    """Another process holds the write lock past wait_seconds: one line, no traceback."""
    import subprocess
    import sys

    scratch_project.settings("[tool.PACKAGE.etl]\nwait_seconds = 0.5\n")
    write(scratch_project.raw / "a.csv", "x\n1\n")
    run()
    write(scratch_project.raw / "a.csv", "x\n22\n")
    hold = (
        "import sqlite3, sys, time\n"
        "con = sqlite3.connect(sys.argv[1]); con.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True); time.sleep(60)\n"
    )
    other = subprocess.Popen(
        [sys.executable, "-c", hold, str(paths.DATABASE)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert other.stdout.readline() == "locked\n"
        assert run()["a"].error == (
            f"the database {paths.relative(paths.DATABASE)} is busy: another process writing "
            "it (another `invoke etl`?) held it for longer than wait_seconds = 0.5: let it "
            "finish (or close it), then run again; wait_seconds under "
            f"[tool.{paths.PACKAGE}.etl] sets the wait"
        )
    finally:
        other.kill()
        other.wait()
    assert rows("a") == [(1,)]


def test_a_file_without_header_gets_the_configured_column_names(scratch_project):
    """tornado's fr_FR.csv is one quoted line with no header: named by the settings."""
    import tornado

    source = Path(tornado.__file__).parent / "test" / "csv_translations" / "fr_FR.csv"
    (scratch_project.raw / "fr_fr.csv").write_bytes(source.read_bytes())
    assert run()["fr_fr"].rows == 0  # its only line is read as a header
    scratch_project.settings(
        '[tool.PACKAGE.etl.tables.fr_fr]\nheader = false\ncolumns = ["english", "french"]\n'
    )
    run()
    assert rows("fr_fr") == [("school", "école")]
    assert list(types("fr_fr")) == ["english", "french"]


def test_delimiter_and_quote_can_be_set(scratch_project):
    scratch_project.settings('[tool.PACKAGE.etl.tables.odd]\ndelimiter = ";"\nquote = "\'"\n')
    write(scratch_project.raw / "odd.csv", "a;b\n1;'x;y'\n2;'it''s'\n")
    run()
    assert rows("odd") == [(1, "x;y"), (2, "it's")]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(st.sampled_from(["a", "1", ",", '"', "\n", "\r", " ", "é"]), min_size=1, max_size=30)
)
def test_raw_csv_text_loads_as_pythons_csv_module_reads_it_or_fails_naming_the_line(
    scratch_project, body
):
    """Property, on text no csv.writer would write (stray quotes, lone CRs): the loaded rows
    are csv.reader's rows as text, or the load fails on the first line csv.reader finds ragged."""
    text = "h1,h2\n" + body
    (scratch_project.raw / "raw.csv").write_bytes(text.encode())
    reader = csv.reader(io.StringIO(text, newline=""))
    expected, ragged = [], None
    for record in list(reader)[1:]:
        if record and len(record) != 2 and ragged is None:
            ragged = record
        if record:
            expected.append(tuple(record))
    scratch_project.settings('[tool.PACKAGE.etl.tables.raw]\ntypes = {h1 = "TEXT", h2 = "TEXT"}\n')
    report = run(force=True)["raw"]
    if ragged is not None:
        assert report.status == "failed" and f"found {len(ragged)}" in report.error
    elif not expected:  # a header alone: an empty table
        assert report.status == "loaded" and rows("raw") == []
    else:
        assert report.status == "loaded", report.error
        assert rows("raw") == [tuple(None if f == "" else f for f in r) for r in expected]


# ---- no input breaks the run ---------------------------------------------------------------------


def test_a_symlink_loop_in_data_raw_fails_alone_in_one_line(scratch_project):
    write(scratch_project.raw / "good.csv", "x\n1\n")
    (scratch_project.raw / "loop.csv").symlink_to("loop.csv")
    reports = run()
    assert reports["good"].status == "loaded"
    assert reports["loop"].error == (
        "data/raw/loop.csv: is a symbolic link that leads back to itself (Too many levels of "
        "symbolic links): remove it, or point it at the data file"
    )


FILL_DISK = """
import os, resource, signal, sys
from {{ cookiecutter.module_name }} import etl
if sys.argv[2] == "ulimit":
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))
reports = etl.run(quiet=True, database=sys.argv[1])
print("\\n".join(f"{r.table}|{r.status}|{r.error}" for r in reports))
"""


def test_a_full_disk_fails_the_file_in_one_line_and_leaves_the_database_as_it_was(
    scratch_project, tmp_path
):
    """A real full disk: a 1 MB tmpfs when mount works (as root), else a file size limit."""
    import subprocess
    import sys

    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = (
        os.geteuid() == 0
        and not subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True
        ).returncode
    )
    database = folder / "db.sqlite"
    try:
        write(scratch_project.raw / "small.csv", "x\n1\n")
        write(
            scratch_project.raw / "big.csv",
            "a,b\n" + "".join(f"{i},{i}.5\n" for i in range(80_000)),
        )
        way = "none" if mounted else "ulimit"
        command = [sys.executable, "-c", FILL_DISK, str(database), way]
        env = {**os.environ, "PROJECT_ROOT": str(scratch_project.root)}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        lines = dict(line.split("|", 1) for line in done.stdout.splitlines())
        assert lines["small"] == "loaded|None"
        status, error = lines["big"].split("|")
        assert status == "failed" and "\n" not in error
        full = (
            f"data/raw/big.csv: the disk holding {database} is full (database or disk is full); "
            "nothing of this file was loaded: free space"
            if mounted
            else f"data/raw/big.csv: writing {database} failed (disk I/O error): is its disk "
            "full, or the file over a size limit (ulimit -f)? nothing of this file was loaded"
        )
        assert error.startswith(full)
        assert rows("small", database) == [(1,)]
        with closing(sqlite3.connect(database)) as con:
            assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert con.execute("SELECT name FROM sqlite_schema WHERE name = 'big'").fetchall() == []
    finally:
        if mounted:
            subprocess.run(["umount", "--lazy", str(folder)], check=True)


def test_columns_loads_a_subset_of_a_file_wider_than_sqlite_allows(scratch_project):
    header = [f"c{i}" for i in range(2500)]
    write(
        scratch_project.raw / "wide.csv",
        ",".join(header) + "\n" + ",".join(str(i) for i in range(2500)) + "\n",
    )
    scratch_project.settings('[tool.PACKAGE.etl.tables.wide]\ncolumns = ["c2499", "c7"]\n')
    report = run()["wide"]
    assert (report.status, report.rows) == ("loaded", 1)
    assert types("wide") == {"c2499": "INTEGER", "c7": "INTEGER"}
    assert rows("wide") == [(2499, 7)]


def test_a_json_line_nested_hundreds_of_levels_loads_as_its_json_text(scratch_project):
    deep = "[" * 400 + "1.50" + "]" * 400
    write(scratch_project.raw / "deep.jsonl", '{"a": ' + deep + ', "b": 2}\n')
    report = run()["deep"]
    assert report.status == "loaded", report.error
    assert rows("deep") == [(deep, 2)]


def test_a_field_longer_than_the_limit_is_a_bad_line_with_its_number(scratch_project):
    """An unclosed quote would make one field of the rest of the file: refused at the limit."""
    scratch_project.settings("[tool.PACKAGE.etl]\nmax_line_mb = 1\n")
    lines = "".join(f"{i},x\n" for i in range(40_000))
    write(scratch_project.raw / "open.csv", 'a,b\n1,"never closed\n' + lines * 6)
    report = run()["open"]
    assert report.error == (
        "data/raw/open.csv line 2: a field longer than max_line_mb = 1 (MB): b'' (fix the file, "
        "or run with on_bad_lines='skip' to load the other lines)"
    )


# ---- vanished sources, header-only files -------------------------------------------------------


def test_a_table_whose_files_are_gone_is_listed_and_prune_drops_it_and_its_copy(
    scratch_project,
):
    write(scratch_project.raw / "kept.csv", "x\n1\n")
    write(scratch_project.raw / "gone.csv", "x\n2\n")
    run()
    (scratch_project.raw / "gone.csv").unlink()
    reports = etl.run(quiet=True)
    assert {r.table: r.status for r in reports} == {"kept": "skipped", "gone": "vanished"}
    assert (
        "gone: its raw files are gone (data/raw/gone.csv); the table stays: prune=True drops it"
        in etl.summary(reports).splitlines()
    )
    assert rows("gone") == [(2,)]
    assert data.load("gone")["x"].tolist() == [2]  # writes the table's columnar copy
    copies = paths.DATABASE.parent / "columnar"
    assert sorted(p.name for p in copies.iterdir() if p.is_dir()) == ["gone"]
    reports = etl.run(quiet=True, prune=True)
    assert {r.table: r.status for r in reports} == {"kept": "skipped", "gone": "pruned"}
    assert [p.name for p in copies.iterdir() if p.is_dir()] == []  # its copy went with it
    with sqlite3.connect(paths.DATABASE) as con:
        assert con.execute("SELECT name FROM sqlite_schema WHERE name = 'gone'").fetchall() == []
        assert con.execute("SELECT DISTINCT table_name FROM _etl_manifest").fetchall() == [
            ("kept",)
        ]


LEAN_RUN = """
import sys
from {{ cookiecutter.module_name }} import etl
reports = etl.run(quiet=True, prune=True)
etl.summary(reports)  # as `invoke etl` does
print("\\n".join(f"{r.table}|{r.status}" for r in reports))
print(sorted({"pandas", "pyarrow.dataset", "adbc_driver_manager.dbapi"} & set(sys.modules)))
"""


def test_a_csv_or_json_lines_load_never_imports_pandas_nor_the_adbc_dbapi(scratch_project):
    """Importing them took a quarter of a second of every `invoke etl`, which needs neither."""
    import subprocess
    import sys

    write(scratch_project.raw / "kept.csv", "x\n1\n")
    write(scratch_project.raw / "gone.csv.gz", "x\n2\n")
    run()
    assert data.load("gone")["x"].tolist() == [2]  # a columnar copy, for prune to remove
    (scratch_project.raw / "gone.csv.gz").unlink()
    write(
        scratch_project.raw / "new.csv.gz",
        "n,r,s,d\n1,2.5,a,2024-01-31\n2,,NA,2024-02-01\n3,1234567890.123456,,2024-02-02\n",
    )
    write(
        scratch_project.raw / "lines.jsonl.gz",
        '{"n": 1, "r": 2.50, "b": true, "d": "2024-01-31"}\n{"n": -0, "b": false, "d": null}\n',
    )
    command = [sys.executable, "-c", LEAN_RUN]
    env = {**os.environ, "PROJECT_ROOT": str(scratch_project.root)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    *statuses, imported = done.stdout.splitlines()
    assert dict(line.split("|") for line in statuses) == {
        "kept": "skipped",
        "new": "loaded",
        "gone": "pruned",
        "lines": "loaded",
    }
    assert imported == "[]"
    assert rows("lines") == [(1, 2.5, 1, "2024-01-31"), (0.0, None, 0, None)]
    assert types("new") == {"n": "INTEGER", "r": "REAL", "s": "TEXT", "d": "TEXT"}
    assert rows("new") == [
        (1, 2.5, "a", "2024-01-31"),
        (2, None, "NA", "2024-02-01"),
        (3, 1234567890.123456, None, "2024-02-02"),
    ]
    assert not (paths.DATABASE.parent / "columnar" / "gone").exists()


def test_a_header_only_file_is_an_empty_table_of_text_columns_noted_in_the_summary(
    scratch_project,
):
    write(scratch_project.raw / "header.csv", "a,b\n")
    reports = etl.run(quiet=True)
    assert (reports[0].status, reports[0].rows) == ("loaded", 0)
    assert types("header") == {"a": "TEXT", "b": "TEXT"}
    assert rows("header") == []
    assert (
        "note: data/raw/header.csv: has a header but no data rows: loaded as an empty table "
        "with its 2 columns (TEXT)" in etl.summary(reports).splitlines()
    )


# ---- dates ---------------------------------------------------------------------------------------


def test_iso_dates_and_timestamps_are_text_with_their_logical_type_in_the_manifest(
    scratch_project,
):
    """Every row decides: one impossible date (2023-02-29) in the last row keeps a column plain
    text, like one word keeps a column of numbers text."""
    from {{ cookiecutter.module_name }} import db

    body = "".join(
        f"2023-01-{d:02},2023-01-{d:02}T10:{d:02}:00.5,2023-01-{d:02} 10:00+01:00,"
        f"2023-01-{d:02},2023\n"
        for d in range(1, 29)
    )
    write(
        scratch_project.raw / "when.csv",
        "day,at,zoned,almost,year\n" + body + "2023-02-28,,,2023-02-29,2024\n",
    )
    run()
    assert types("when") == {
        "day": "TEXT",
        "at": "TEXT",
        "zoned": "TEXT",
        "almost": "TEXT",
        "year": "INTEGER",
    }
    assert rows("when")[0] == ("2023-01-01", "2023-01-01T10:01:00.5", "2023-01-01 10:00+01:00",
                               "2023-01-01", 2023)  # fmt: skip
    assert db.manifest_of("when").logical_types == {
        "day": "date",
        "at": "timestamp",
        "zoned": "timestamptz",
        "almost": None,
        "year": None,
    }


def test_dates_in_another_format_are_read_by_setting_and_a_mismatch_names_its_line(
    scratch_project,
):
    scratch_project.settings(
        '[tool.PACKAGE.etl.tables.visits]\ndates = {when = "%d/%m/%Y", at = "%d/%m/%Y %H:%M"}\n'
    )
    write(scratch_project.raw / "visits.csv", "when,at\n31/12/2020,01/02/2021 13:45\n1/2/2021,\n")
    assert run()["visits"].status == "loaded"
    assert rows("visits") == [("2020-12-31", "2021-02-01T13:45:00"), ("2021-02-01", None)]
    write(scratch_project.raw / "visits.csv", "when,at\n31/12/2020,\n31/02/2021,\n")
    assert run()["visits"].error == (
        "data/raw/visits.csv line 3: column 'when': '31/02/2021' does not match '%d/%m/%Y' "
        "(dates setting): b'31/02/2021,' (fix the file, or run with on_bad_lines='skip' to "
        "load the other lines)"
    )


# ---- XML -----------------------------------------------------------------------------------------


def test_an_xml_attribute_of_megabytes_loads_and_one_past_the_limit_is_refused(scratch_project):
    big = "x" * (6 << 20)
    write(
        scratch_project.raw / "posts.xml", f'<posts><row Id="1" Body="{big}"/><row Id="2"/></posts>'
    )
    assert run()["posts"].rows == 2
    assert rows("posts") == [(1, big), (2, None)]
    scratch_project.settings("[tool.PACKAGE.etl.tables.posts]\nmax_line_mb = 4\n")
    assert run()["posts"].error == (
        "data/raw/posts.xml: a XML element (after record 0) longer than max_line_mb = 4 (MB): "
        "is it really a table (a file that expands to one endless line)? If it is real, "
        "raise max_line_mb in the table's settings"
    )
