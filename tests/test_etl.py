"""`invoke etl` run for real in a baked project: the example, parts, bad input, kill -9."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path


def database(project) -> Path:
    return project.path / "data" / "processed" / "penguin_study.sqlite"


def query(project, sql: str, *params) -> list[tuple]:
    with sqlite3.connect(database(project)) as con:
        return con.execute(sql, params).fetchall()


def test_invoke_etl_loads_the_example_then_skips_it_until_forced(project):
    """The penguins load typed (NA as NULL, as the example's settings say); a rerun skips them."""
    done = project.run("invoke", "etl")
    assert done.stdout.splitlines() == [
        "penguins: 344 rows, 8 columns from data/raw/penguins.csv.gz in "
        + done.stdout.split("penguins.csv.gz in ")[1].split("\n")[0],
        "penguins_raw: 344 rows, 17 columns from data/raw/penguins_raw.csv.gz in "
        + done.stdout.split("penguins_raw.csv.gz in ")[1].split("\n")[0],
        "database: data/processed/penguin_study.sqlite",
    ]
    assert done.stderr == ""  # not a terminal: no progress bars
    assert query(project, "SELECT name, type FROM pragma_table_info('penguins')") == [
        ("species", "TEXT"),
        ("island", "TEXT"),
        ("bill_length_mm", "REAL"),
        ("bill_depth_mm", "REAL"),
        ("flipper_length_mm", "INTEGER"),
        ("body_mass_g", "INTEGER"),
        ("sex", "TEXT"),
        ("year", "INTEGER"),
    ]
    assert query(project, "SELECT count(*), count(body_mass_g), sum(body_mass_g) FROM penguins") == [
        (344, 342, 1437000)
    ]
    assert query(project, "SELECT type FROM pragma_table_info('penguins_raw') WHERE name LIKE 'Delta%'") == [
        ("REAL",),
        ("REAL",),
    ]
    again = project.run("invoke", "etl")
    assert "penguins: unchanged, skipped (--force reloads it)" in again.stdout
    forced = project.run("invoke", "etl", "--force", "--names", "penguins")
    assert forced.stdout.startswith("penguins: 344 rows")
    assert "penguins_raw" not in forced.stdout


def test_the_notebook_helpers_read_what_etl_wrote(project):
    """data.load and data.tables in the project's venv, as the example notebook calls them."""
    project.run("invoke", "etl", "--quiet")
    code = (
        "from penguin_study import data\n"
        "p = data.load('penguins')\n"
        "print(len(p), p['body_mass_g'].dtype, p['bill_length_mm'].dtype, p['year'].dtype)\n"
        "print(list(data.tables()['table']))\n"
    )
    out = project.run("python", "-c", code).stdout.splitlines()
    assert out == ["344 Int64 float64 int64", "['penguins', 'penguins_raw']"]


def write_gz(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode()))


def test_a_folder_of_parts_and_bad_files_give_exact_messages_and_exit_codes(project):
    raw = project.path / "data" / "raw"
    for n in range(1, 4):
        write_gz(raw / "tweets" / f"part-000{n}.csv.gz", f'id,text\n{n},hello {n}\n{n * 100},"a, b"\n')
    (raw / "ragged.csv").write_text("a,b\n1,2\n3\n")
    (raw / "empty.tsv").write_bytes(b"")
    failed = project.run("invoke", "etl", check=False)
    assert failed.returncode == 1
    assert failed.stderr.strip() == "Error: 2 of 5 tables failed to load: empty, ragged"
    lines = failed.stdout.splitlines()
    assert (
        "empty: FAILED, nothing loaded: data/raw/empty.tsv: is empty (0 bytes): "
        "remove it or replace it with the real data" in lines
    )
    assert (
        "ragged: FAILED, nothing loaded: data/raw/ragged.csv line 3: expected 2 fields, found 1: b'3' "
        "(fix the file, or run with --on-bad-lines skip to load the other lines)" in lines
    )
    parts = "tweets: 6 rows, 2 columns from data/raw/tweets/part-0001.csv.gz, data/raw/tweets/part-0002"
    assert any(line.startswith(parts) for line in lines)
    assert query(project, "SELECT id, text FROM tweets ORDER BY rowid")[:2] == [(1, "hello 1"), (100, "a, b")]

    skipped = project.run("invoke", "etl", "--on-bad-lines", "skip", "--names", "ragged")
    assert "ragged: 1 rows, 2 columns from data/raw/ragged.csv, 1 lines rejected" in skipped.stdout
    rejects = (project.path / "data" / "processed" / "rejects" / "ragged.csv").read_text()
    assert rejects.splitlines() == [
        "file,line,reason,text",
        'data/raw/ragged.csv,3,"expected 2 fields, found 1",3',
    ]

    wrong = project.run("invoke", "etl", "--on-bad-lines", "maybe", check=False)
    assert wrong.returncode == 1
    assert wrong.stderr.strip() == "Error: --on-bad-lines 'maybe': use 'error' or 'skip'"


def test_vanished_sources_are_listed_and_prune_drops_them_with_cli_words(project):
    """The summary speaks the command line's flags (--prune, --force), not Python's arguments."""
    raw = project.path / "data" / "raw"
    (raw / "old.csv").write_text("x\n1\n")
    project.run("invoke", "etl", "--quiet")
    (raw / "old.csv").unlink()
    listed = project.run("invoke", "etl", "--quiet").stdout.splitlines()
    assert "old: its raw files are gone (data/raw/old.csv); the table stays: --prune drops it" in listed
    assert "penguins: unchanged, skipped (--force reloads it)" in listed
    pruned = project.run("invoke", "etl", "--quiet", "--prune").stdout.splitlines()
    assert "old: its raw files are gone (data/raw/old.csv): dropped" in pruned
    assert query(project, "SELECT name FROM sqlite_schema WHERE name = 'old'") == []


def test_a_folder_given_as_the_database_is_one_error_line_without_traceback(project):
    folder = project.path / "data" / "processed" / "a-folder"
    folder.mkdir(parents=True)
    failed = project.run("invoke", "etl", "--db", str(folder), check=False)
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [
        f"Error: cannot open database {folder}: it is a folder; give --db the path of an SQLite file, "
        "or of a new file in a folder you can write"
    ]
    assert "Traceback" not in failed.stdout + failed.stderr


def big_csv(rows: int, seed: int) -> str:
    rng = random.Random(seed)
    lines = ["id,x,y,label"]
    lines += [f"{i},{rng.random():.6f},{rng.randrange(10**6)},w{rng.randrange(1000)}" for i in range(rows)]
    return "\n".join(lines) + "\n"


def test_kill_9_in_the_middle_of_a_load_leaves_the_old_tables_intact(project):
    """A load killed while it writes: the notebook helpers read at once (the first read rolls
    the journal back), integrity_check ok, the old table as it was, no staging table; the
    next run loads the file completely."""
    raw = project.path / "data" / "raw"
    (raw / "big.csv").write_text("id,x,y,label\n1,0.5,7,old\n")
    project.run("invoke", "etl", "--quiet")
    assert query(project, "SELECT * FROM big") == [(1, 0.5, 7, "old")]
    (raw / "big.csv").write_text(big_csv(600_000, seed=1))
    size = database(project).stat().st_size
    journal = database(project).with_name(database(project).name + "-journal")
    loading = subprocess.Popen(
        [project.venv.bin("invoke"), "etl", "--quiet"],
        cwd=project.path,
        env={**os.environ, **project.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and loading.poll() is None:
        # the load is writing pages of the new table into the file (its journal is hot)
        if journal.exists() and database(project).stat().st_size > size + 2_000_000:
            break
        time.sleep(0.01)
    assert loading.poll() is None, "the load finished before it could be killed"
    os.kill(loading.pid, signal.SIGKILL)
    loading.wait()
    assert journal.exists()  # the killed transaction left its rollback journal behind
    read = project.run(
        "python", "-c", "from penguin_study import data; print(data.load('big').values.tolist())"
    )
    assert read.stdout == "[[1, 0.5, 7, 'old']]\n"
    assert not journal.exists()  # rolled back by data.load's read connection
    assert query(project, "PRAGMA integrity_check") == [("ok",)]
    assert query(project, "SELECT * FROM big") == [(1, 0.5, 7, "old")]
    assert query(project, "SELECT count(*) FROM penguins") == [(344,)]
    assert query(project, "SELECT name FROM sqlite_schema WHERE name LIKE '%staging%'") == []

    done = project.run("invoke", "etl", "--quiet")
    assert done.stdout.startswith("big: 600,000 rows, 4 columns")
    assert query(project, "SELECT count(*), min(id), max(id) FROM big") == [(600_000, 0, 599_999)]
    assert query(project, "SELECT rows FROM _etl_manifest WHERE table_name = 'big'") == [(600_000,)]


MEME = (
    "P\thttp://blogs.abcnews.com/politicalpunch/2008/09/obama-says-mc-1.html\n"
    "T\t2008-09-09 22:35:24\n"
    "Q\tthat's not change\n"
    "L\thttp://reuters.com/article/politicsnews/idusn2944356420080901\n"
    "\n"
    "P\thttp://example.org/b\n"
    "T\t2008-09-10 01:00:00\n"
    "Q\tlipstick on a pig\n"
)


def test_json_lines_xml_and_a_custom_reader_load_next_to_the_csv_example(project):
    """A .jsonl.gz with a late key, a StackExchange-like XML dump and MemeTracker quotes read
    by the example reader (mapped in pyproject.toml) load in one run with the penguins."""
    raw = project.path / "data" / "raw"
    comments = [{"id": "a1", "score": 3, "body": "naïve"}, {"id": "a2", "score": 5, "user": {"id": 7}}]
    write_gz(raw / "comments.jsonl.gz", "\n".join(json.dumps(c, ensure_ascii=False) for c in comments) + "\n")
    (raw / "Posts.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<posts>\n'
        '  <row Id="1" Score="10" Body="&lt;p&gt;Ben &amp; Jerry&lt;/p&gt;" />\n'
        '  <row Id="2" Score="-2" Body="b" ParentId="1" />\n</posts>\n'
    )
    write_gz(raw / "memetracker" / "quotes_2008-09.txt.gz", MEME)
    pyproject = project.path / "pyproject.toml"
    text = pyproject.read_text()
    table = "[tool.penguin_study.etl]\n"
    pyproject.write_text(
        text.replace(table, table + 'readers = {"memetracker/*" = "penguin_study.readers:memetracker"}\n')
    )
    done = project.run("invoke", "etl")
    for line in ("comments: 2 rows, 4 columns", "posts: 2 rows, 4 columns", "memetracker: 2 rows, 4 columns",
                 "penguins: 344 rows"):  # fmt: skip
        assert any(out.startswith(line) for out in done.stdout.splitlines()), (line, done.stdout)
    assert query(project, "SELECT id, score, user FROM comments") == [("a1", 3, None), ("a2", 5, '{"id":7}')]
    assert query(project, "SELECT Id, Score, Body, ParentId FROM posts") == [
        (1, 10, "<p>Ben & Jerry</p>", None),
        (2, -2, "b", 1),
    ]
    assert query(project, "SELECT url, json_extract(quotes, '$[0]') FROM memetracker ORDER BY rowid")[1] == (
        "http://example.org/b",
        "lipstick on a pig",
    )
