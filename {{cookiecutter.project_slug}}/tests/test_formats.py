"""JSON Lines, XML row dumps and your own readers load through the same typed, atomic loader."""

import bz2
import gzip
import json
import random
import sqlite3
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from {{ cookiecutter.module_name }} import db, etl, paths
from {{ cookiecutter.module_name }}.db import quote
from {{ cookiecutter.module_name }}.readers import memetracker


def rows(table: str) -> list[tuple]:
    with sqlite3.connect(paths.DATABASE) as con:
        return con.execute(f"SELECT * FROM {quote(table)} ORDER BY rowid").fetchall()


def types(table: str) -> dict[str, str]:
    with sqlite3.connect(paths.DATABASE) as con:
        return {
            name: kind for _, name, kind, *_ in con.execute(f"PRAGMA table_info({quote(table)})")
        }


def run(**options) -> dict[str, etl.TableReport]:
    return {r.table: r for r in etl.run(quiet=True, **options)}


# Reddit-comment-like lines: a key that appears only later, nested objects, unicode,
# numbers written with trailing zeros, a boolean and a null.
COMMENTS = [
    {"id": "c0299an", "score": 3, "body": "First", "ups": 1.50, "edited": False},
    {"id": "c0299ao", "score": -1, "body": "naïve café ✓", "ups": 2, "edited": True,
     "gilded": None},
    {"id": "c0299ap", "score": 12, "body": "x", "ups": 0.25, "author": {"name": "bob", "karma": 7},
     "tags": ["a", "b"], "distinguished": "moderator"},
]  # fmt: skip


def jsonl(records, tail: str = "") -> bytes:
    return ("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n" + tail).encode()


def test_json_lines_load_with_a_column_per_key_typed_exactly(scratch_project):
    text = jsonl(COMMENTS).replace(b'"ups": 1.5,', b'"ups": 1.50,')
    (scratch_project.raw / "comments.jsonl.gz").write_bytes(gzip.compress(text))
    report = run()["comments"]
    assert report.status == "loaded", report.error
    assert types("comments") == {
        "id": "TEXT", "score": "INTEGER", "body": "TEXT", "ups": "REAL", "edited": "INTEGER",
        "gilded": "TEXT", "author": "TEXT", "tags": "TEXT", "distinguished": "TEXT",
    }  # fmt: skip
    loaded = rows("comments")
    assert loaded[0] == ("c0299an", 3, "First", 1.5, 0, None, None, None, None)
    assert loaded[1][2] == "naïve café ✓" and loaded[1][4] == 1
    assert loaded[2][6:] == ('{"name":"bob","karma":7}', '["a","b"]', "moderator")
    with sqlite3.connect(paths.DATABASE) as con:
        (karma,) = con.execute(
            "SELECT json_extract(author, '$.karma') FROM comments WHERE id = 'c0299ap'"
        ).fetchone()
    assert karma == 7


def test_nested_objects_can_be_flattened_one_level(scratch_project):
    scratch_project.settings("[tool.PACKAGE.etl.tables.comments]\nflatten = true\n")
    (scratch_project.raw / "comments.ndjson").write_bytes(jsonl(COMMENTS))
    run()
    assert {"author_name", "author_karma"} <= set(types("comments"))
    assert types("comments")["author_karma"] == "INTEGER"


def test_a_configured_column_list_wins_and_other_keys_are_reported(scratch_project):
    scratch_project.settings(
        '[tool.PACKAGE.etl.tables.comments]\ncolumns = ["id", "score", "later"]\n'
    )
    (scratch_project.raw / "comments.jsonl").write_bytes(jsonl(COMMENTS))
    report = run()["comments"]
    assert list(types("comments")) == ["id", "score", "later"]
    assert rows("comments")[0] == ("c0299an", 3, None)
    assert any("'body' (3 records)" in hint for hint in report.hints)


def test_a_line_that_is_not_json_is_a_bad_line_with_its_number(scratch_project):
    (scratch_project.raw / "c.jsonl").write_bytes(jsonl(COMMENTS[:2], '{"id": "cut", "sco'))
    report = run()["c"]
    assert report.status == "failed"
    assert report.error.startswith(
        "data/raw/c.jsonl line 3: not valid JSON (Unterminated string starting at: column 15): "
        'b\'{"id": "cut", "sco\''
    )
    skipped = run(on_bad_lines="skip")["c"]
    assert (skipped.rows, skipped.rejected) == (2, 1)
    assert len(rows("c")) == 2


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"[1, 2]", "a JSON list, not an object"),
        (b'{"a": "caf\xe9"}', "byte b'\\xe9' is not valid utf-8"),
    ],
)
def test_json_lines_that_are_not_objects_or_not_utf8_are_bad_lines(scratch_project, line, reason):
    (scratch_project.raw / "j.jsonl").write_bytes(b'{"a": 1}\n' + line + b"\n")
    assert f"data/raw/j.jsonl line 2: {reason}" in run()["j"].error


STACKEXCHANGE = """<?xml version="1.0" encoding="utf-8"?>
<posts>
  <row Id="1" PostTypeId="1" CreationDate="2010-07-19T19:12:12.510" Score="23"
       Body="&lt;p&gt;Ben &amp; Jerry&#x27;s &#x2713;&lt;/p&gt;" Tags="&lt;r&gt;" />
  <row Id="2" PostTypeId="2" ParentId="1" CreationDate="2010-07-19T19:12:57.157"
       Score="007" Body="b" />
</posts>
"""


def test_an_xml_row_dump_loads_one_column_per_attribute(scratch_project):
    (scratch_project.raw / "Posts.xml.bz2").write_bytes(bz2.compress(STACKEXCHANGE.encode()))
    report = run()["posts"]
    assert report.status == "loaded", report.error
    assert types("posts") == {
        "Id": "INTEGER", "PostTypeId": "INTEGER", "CreationDate": "TEXT", "Score": "TEXT",
        "Body": "TEXT", "Tags": "TEXT", "ParentId": "INTEGER",
    }  # fmt: skip
    assert rows("posts")[0][4] == "<p>Ben & Jerry's ✓</p>"  # entities decoded
    assert rows("posts")[1][3] == "007"


def test_a_schema_in_the_settings_types_the_xml_columns(scratch_project):
    scratch_project.settings(
        "[tool.PACKAGE.etl.tables.posts]\n"
        'types = {Score = "INTEGER", ParentId = "INTEGER", Id = "TEXT"}\n'
    )
    (scratch_project.raw / "Posts.xml").write_text(STACKEXCHANGE.replace('"007"', '"7"'))
    run()
    assert types("posts")["Score"] == "INTEGER" and types("posts")["Id"] == "TEXT"
    assert [r[0] for r in rows("posts")] == ["1", "2"]


def test_malformed_xml_fails_its_file_with_the_position(scratch_project):
    (scratch_project.raw / "ok.csv").write_text("x\n1\n")
    (scratch_project.raw / "bad.xml").write_text(
        '<posts>\n<row Id="1" />\n<row Id="2" Body="a < b" />\n</posts>\n'
    )
    reports = run()
    assert reports["ok"].status == "loaded"
    assert reports["bad"].error == (
        "data/raw/bad.xml: not well-formed XML at line 3, column 20 (after record 1): "
        "not well-formed (invalid token)"
    )


MEME = (
    "P\thttp://blogs.abcnews.com/politicalpunch/2008/09/obama-says-mc-1.html\n"
    "T\t2008-09-09 22:35:24\n"
    "Q\tthat's not change\n"
    "Q\tyou know you can put lipstick on a pig\n"
    "L\thttp://reuters.com/article/politicsnews/idusn2944356420080901\n"
    "\n"
    "P\thttp://example.org/b\n"
    "T\t2008-09-10 01:00:00\n"
    "Q\tlipstick on a pig\n"
)


def test_the_example_reader_reads_memetracker_blocks():
    import io

    documents = list(memetracker(io.StringIO(MEME)))
    assert documents == [
        {
            "url": "http://blogs.abcnews.com/politicalpunch/2008/09/obama-says-mc-1.html",
            "time": "2008-09-09 22:35:24",
            "quotes": ["that's not change", "you know you can put lipstick on a pig"],
            "links": ["http://reuters.com/article/politicsnews/idusn2944356420080901"],
        },
        {
            "url": "http://example.org/b",
            "time": "2008-09-10 01:00:00",
            "quotes": ["lipstick on a pig"],
            "links": [],
        },
    ]


def test_a_file_pattern_maps_files_to_a_reader_of_the_package(scratch_project):
    scratch_project.settings(
        '[tool.PACKAGE.etl]\nreaders = {"memetracker/*" = "PACKAGE.readers:memetracker"}\n'
    )
    (scratch_project.raw / "memetracker").mkdir()
    (scratch_project.raw / "memetracker" / "quotes_2008-09.txt.gz").write_bytes(
        gzip.compress(MEME.encode())
    )
    report = run()["memetracker"]
    assert report.status == "loaded", report.error
    assert types("memetracker") == {
        "url": "TEXT",
        "time": "TEXT",
        "quotes": "TEXT",
        "links": "TEXT",
    }
    assert rows("memetracker")[1] == (
        "http://example.org/b",
        "2008-09-10 01:00:00",
        '["lipstick on a pig"]',
        "[]",
    )


def test_a_reader_that_raises_fails_its_file_with_the_record_and_line(scratch_project):
    scratch_project.settings(
        '[tool.PACKAGE.etl]\nreaders = {"*.txt" = "PACKAGE.readers:memetracker"}\n'
    )
    (scratch_project.raw / "ok.csv").write_text("x\n1\n")
    (scratch_project.raw / "broken.txt").write_text(MEME + "\nX no tab here\n")
    reports = run()
    assert reports["ok"].status == "loaded"
    assert reports["broken"].error == (
        f"data/raw/broken.txt: reader {paths.PACKAGE}.readers:memetracker raised ValueError "
        "after record 2 "
        "(line 11): line 11 is not '<P|T|Q|L><tab><value>': 'X no tab here'"
    )
    with sqlite3.connect(paths.DATABASE) as con:
        assert con.execute("SELECT name FROM sqlite_schema WHERE name = 'broken'").fetchall() == []


def test_an_exception_escaping_a_load_fails_its_file_alone_in_one_line(
    scratch_project, monkeypatch
):
    """A reader of yours yielding a value no table can hold (a set): the loader fails on it
    outside any check, and still only that file fails, in one line."""
    (scratch_project.root / "odd_reader.py").write_text(
        "def sets(lines):\n    for line in lines:\n        yield {'a': {line.strip()}}\n"
    )
    monkeypatch.syspath_prepend(str(scratch_project.root))
    scratch_project.settings('[tool.PACKAGE.etl]\nreaders = {"*.txt" = "odd_reader:sets"}\n')
    (scratch_project.raw / "ok.csv").write_text("x\n1\n")
    (scratch_project.raw / "odd.txt").write_text("one\n")
    reports = run()
    assert reports["ok"].status == "loaded"
    assert reports["odd"].error == (
        "data/raw/odd.txt: the load failed with TypeError: Object of type set is not JSON "
        "serializable; nothing of it was loaded: this is a bug of the ETL (or of your reader): "
        "please report it with the file's first lines"
    )


def test_a_json_array_item_longer_than_the_limit_is_refused(scratch_project):
    scratch_project.settings("[tool.PACKAGE.etl]\nmax_line_mb = 1\n")
    big = "x" * (3 << 20)
    (scratch_project.raw / "items.json").write_text('[{"a": 1}, {"a": "' + big + '"}]')
    assert run()["items"].error == (
        "data/raw/items.json: a JSON value (after record 1) longer than max_line_mb = 1 (MB): "
        "is it really a table (a file that expands to one endless line)? If it is real, raise "
        "max_line_mb in the table's settings"
    )


def test_a_reader_that_cannot_be_found_is_named(scratch_project):
    scratch_project.settings(
        '[tool.PACKAGE.etl]\nreaders = {"*.txt" = "PACKAGE.readers:nothing"}\n'
    )
    (scratch_project.raw / "x.txt").write_text(MEME)
    assert (
        run()["x"].error == f"data/raw/x.txt: reader '{paths.PACKAGE}.readers:nothing': "
        f"{paths.PACKAGE}.readers has no function 'nothing'"
    )


def test_a_json_array_of_objects_loads_streaming_typed_exactly_like_json_lines(scratch_project):
    """Like vega_datasets' cars.json (pretty-printed, NULLs, ISO dates); compressed; a bad item."""
    cars = [
        {"Name": f"car {i}", "Miles_per_Gallon": None if i % 7 == 0 else 18 + i % 9,
         "Horsepower": 130.5 + i, "Year": f"19{70 + i % 12}-01-01", "Origin": "USA"}
        for i in range(25_000)
    ]  # fmt: skip
    (scratch_project.raw / "cars.json.gz").write_bytes(
        gzip.compress(json.dumps(cars, indent=2).encode())
    )
    report = run()["cars"]
    assert (report.status, report.rows) == ("loaded", len(cars))
    assert types("cars") == {
        "Name": "TEXT",
        "Miles_per_Gallon": "INTEGER",
        "Horsepower": "REAL",
        "Year": "TEXT",
        "Origin": "TEXT",
    }
    assert rows("cars")[:2] == [tuple(cars[0].values()), tuple(cars[1].values())]
    assert db.manifest_of("cars").logical_types["Year"] == "date"
    (scratch_project.raw / "mixed.json").write_text(
        '[{"a": 1.50, "b": {"c": [1, 2.0]}}, 7, {"a": 12345678901234567890}]'
    )
    assert "data/raw/mixed.json line 2: a JSON int, not an object" in run()["mixed"].error
    report = run(on_bad_lines="skip")["mixed"]
    assert (report.rows, report.rejected) == (2, 1)
    assert rows("mixed") == [("1.50", '{"c":[1,2.0]}'), ("12345678901234567890", None)]


def test_a_json_file_of_one_object_per_line_loads_as_json_lines(scratch_project):
    (scratch_project.raw / "lines.json").write_text('{"a": 1}\n{"a": 2}\n')
    assert run()["lines"].rows == 2
    assert rows("lines") == [(1,), (2,)]


VALUE = st.one_of(
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(blacklist_categories=["Cs"]), max_size=6),
    st.sampled_from(["007", "1.50", "-0", "NA", ""]),
    st.booleans(),
    st.none(),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.dictionaries(st.sampled_from("abc"), VALUE, min_size=1), min_size=1, max_size=25)
)
def test_every_json_value_survives_as_its_text(scratch_project, records):
    """Property: each loaded value is the JSON value's text (a number as written, true as 1),
    as a number exactly when its column is numeric, NULL only for null, '' or a missing key."""
    path = scratch_project.raw / "prop.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    report = run(force=True)["prop"]
    assert report.status == "loaded", report.error
    declared = types("prop")
    assert set(declared) == set().union(*records)
    loaded = rows("prop")
    assert len(loaded) == len(records)
    for got_row, record in zip(loaded, records, strict=True):
        for name, got in zip(declared, got_row, strict=True):
            value = record.get(name)
            text = (
                value
                if value is None or isinstance(value, str)
                else ("1" if value else "0")
                if isinstance(value, bool)
                else json.dumps(value)
            )
            if text is None or text == "":
                assert got is None
            elif declared[name] == "INTEGER":
                assert got == int(text)
            elif declared[name] == "REAL":
                assert isinstance(got, float) and got == float(text)
            else:
                assert got == text


def hostile_json_lines(count: int = 48_000) -> bytes:
    """JSON Lines over several of the reader's blocks: numbers that must keep their text, strings
    that look like JSON, escapes, a key that appears late, a column that turns to text at the
    end, and (in the third block only) lines Arrow reads otherwise than Python: two objects on one
    line, leading blanks, a blank before a colon, a blank line."""
    rng = random.Random(7)
    out = []
    for i in range(count):
        record = {
            "id": i,
            "score": rng.gauss(0, 1),  # 17 significant digits
            "price": rng.choice(["1.50", "2", "-0", "1e5", "0.10000000000000000001"]),
            "big": rng.choice([12345678901234567890123, -(2**63), 2**53 + 1]),
            "text": rng.choice(["12:30", "{a: 1}", "naïve ✓", "x\u0000y", "", "NA", 'x"y']),
            "flag": rng.choice([True, False, None]),
            "when": f"2015-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            "turns": "word" if i == count - 1 else rng.choice([1.5, 2, 3.25]),
        }
        if i > 20_000:
            record["late"] = rng.randrange(10)
        line = json.dumps(record, ensure_ascii=rng.random() < 0.5)
        if "price" in record:
            line = line.replace(f'"price": "{record["price"]}"', f'"price": {record["price"]}')
        out.append(line)
    out[30_001] = out[30_001] + " " + out[30_002]  # two objects on one line
    out[30_003] = "   " + out[30_003]
    out[30_005] = out[30_005].replace('"id": ', '"id" :  ')
    out[30_009] = ""
    out[30_011] = json.dumps({"id": -1, "text": 'say ":5" and \\":7'})  # in a string: not a number
    return ("\r\n".join(out[:100]) + "\r\n" + "\n".join(out[100:]) + "\n").encode()


def test_json_lines_parsed_in_blocks_equal_the_record_reader_value_for_value(scratch_project):
    """The block reader (Arrow, numbers quoted to keep their text) against the record reader on the
    same hostile file: ``flatten`` makes a table use the record reader alone."""
    scratch_project.settings("[tool.PACKAGE.etl.tables.exact]\nflatten = true\n")
    text = hostile_json_lines()
    for name in ("blocks", "exact"):
        (scratch_project.raw / f"{name}.jsonl").write_bytes(text)
    report = run(on_bad_lines="skip")
    assert report["blocks"].status == report["exact"].status == "loaded"
    assert (report["blocks"].rows, report["blocks"].rejected) == (47_998, 1)
    assert (report["exact"].rows, report["exact"].rejected) == (47_998, 1)
    assert report["blocks"].columns == report["exact"].columns
    assert types("blocks") == types("exact")
    assert types("blocks")["turns"] == "TEXT" and types("blocks")["price"] == "TEXT"
    assert types("blocks")["score"] == "REAL" and types("blocks")["flag"] == "INTEGER"
    assert rows("blocks") == rows("exact")
    assert db.manifest_of("blocks").logical_types == db.manifest_of("exact").logical_types
    loaded = rows("blocks")
    assert {row[2] for row in loaded} == {"1.50", "2", "-0", "1e5", "0.10000000000000000001", None}
    assert loaded[0][7] in ("1.5", "2", "3.25") and loaded[-1][7] == "word"


def test_a_bad_line_deep_in_json_lines_is_named_by_its_line(scratch_project):
    lines = hostile_json_lines(40_000).split(b"\n")
    lines[39_499] = b'{"id": 1, "score": 01}'  # line 39,500: a number JSON does not allow
    (scratch_project.raw / "deep.jsonl").write_bytes(b"\n".join(lines))
    before = set(threading.enumerate())
    error = run()["deep"].error
    assert error.startswith("data/raw/deep.jsonl line 30002: not valid JSON (Extra data")
    assert set(threading.enumerate()) == before  # the reading and parsing threads have stopped
    del lines[30_001]  # the line of two objects: the bad number is now on line 39,499
    (scratch_project.raw / "deep.jsonl").write_bytes(b"\n".join(lines))
    error = run(force=True)["deep"].error
    assert error.startswith("data/raw/deep.jsonl line 39499: not valid JSON (Expecting ',' delim")


@pytest.mark.parametrize("number", ["01", "1.", "-", "1e", ".5", "+1", "1.2.3", "0x1F"])
def test_a_number_json_does_not_allow_is_a_bad_line(scratch_project, number):
    (scratch_project.raw / "n.jsonl").write_text('{"a": 1.50}\n{"a": ' + number + ', "b": "x"}\n')
    report = run(on_bad_lines="skip")["n"]
    assert (report.rows, report.rejected) == (1, 1)
    assert rows("n") == [(1.5,)]
    assert run(force=True)["n"].error.startswith("data/raw/n.jsonl line 2: not valid JSON (")


def test_nan_which_python_reads_in_json_lines_is_text_and_its_column_keeps_every_text(
    scratch_project,
):
    (scratch_project.raw / "n.jsonl").write_text('{"a": 1.50}\n{"a": NaN, "b": "x"}\n')
    assert run()["n"].rows == 2
    assert rows("n") == [("1.50", None), ("nan", "x")]


def test_a_record_misfitting_its_type_setting_leaves_the_other_columns_exact(scratch_project):
    """The batch where column a turns to text also holds a value that misfits n's type setting:
    a's earlier integers still become their text."""
    scratch_project.settings('[tool.PACKAGE.etl.tables.m]\ntypes = {n = "INTEGER"}\n')
    records = [{"a": i, "n": i} for i in range(20_000)]
    records[15_000] = {"a": "x", "n": 1}
    records[15_001] = {"a": 15_001, "n": "many"}
    (scratch_project.raw / "m.jsonl").write_bytes(jsonl(records))
    report = run(on_bad_lines="skip")["m"]
    assert (report.rows, report.rejected) == (19_999, 1)
    assert types("m") == {"a": "TEXT", "n": "INTEGER"}
    with sqlite3.connect(paths.DATABASE) as con:
        assert con.execute("SELECT DISTINCT typeof(a) FROM m").fetchall() == [("text",)]
    assert rows("m")[:2] == [("0", 0), ("1", 1)] and rows("m")[15_000] == ("x", 1)


def test_a_json_line_longer_than_the_reader_block_loads_whole(scratch_project):
    long = "é" * 3_000_000  # 6 MB of UTF-8: three of the reader's blocks
    text = jsonl([{"id": 1, "text": "a"}, {"id": 2, "text": long}, {"id": 3, "text": "c"}])
    (scratch_project.raw / "long.jsonl.gz").write_bytes(gzip.compress(text))
    assert run()["long"].rows == 3
    assert rows("long") == [(1, "a"), (2, long), (3, "c")]
