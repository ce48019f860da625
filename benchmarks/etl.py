"""Benchmark `invoke etl` and `data.load` against the tools people use, in one run.

Run in a baked project with its Python (``python3 dev.py bench etl`` does that), or::

    python benchmarks/etl.py --rows 2000000 [--work DIR] [--skip-slow]

It writes a deterministic mixed-type CSV (10 columns: integers, prices, doubles printed
with 17 digits, words, a column with empty fields, dates, free text, quoted text with
commas, coordinates), gzips and bzip2s it, then times in this order, each in its own
process so that its peak RSS is its own (``os.wait4``):

- the ``sqlite3`` shell's ``.import`` through ``zcat`` (and through ``lbzip2 -dc``, and of
  the plain CSV), all TEXT;
- ``invoke etl`` on the ``.csv.gz``, the ``.csv.bz2`` and the plain ``.csv``, typed; and on
  half the rows, to show whether memory grows with the input;
- ``sqlite-utils insert --csv --detect-types`` (on the plain CSV: it cannot read gzip) and
  pandas ``read_csv(chunksize=...)`` + ``to_sql``, when installed (``--skip-slow`` skips them);
- the same rows as JSON Lines: ``invoke etl`` on the ``.jsonl.gz`` against
  ``sqlite-utils insert --nl`` on the ``.jsonl``, and the floor of these parts (Arrow's JSON
  reader and ADBC's ingest, untyped, no number kept as written: :data:`JSON_FLOOR`);
- ``pandas.read_sql`` against ``data.load`` of the loaded table;
- the same rows as one JSON array (``.json.gz``, streamed by ijson), and half of them;
- the cost of the checks that keep memory bounded and find dates: their CPU time during a
  load of the plain CSV, against the load's time;
- a ``.gz`` of a few MB that expands to one endless line (``--endless-mb``): refused in one
  line, with its peak RSS; and XML row dumps with one attribute of 16 and 32 MB (linear
  time: the second takes about twice the first).

Ratios are ours over the reference: below 1 is faster. Each fast step runs ``--repeat``
times and the best time counts (other work on a shared machine only slows a run down);
the references run in the same run, so the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

HERE = Path.cwd()


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """The benchmark's CSV: deterministic for (rows, seed)."""
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    with open(path, "w", newline="") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(["id", "count", "price", "score", "word", "maybe", "date", "text", "quoted", "lat"])
        for i in range(rows):
            out.writerow(
                [
                    i + 1,
                    rng.randrange(-1_000_000, 1_000_000),
                    f"{rng.uniform(0, 1000):.2f}",
                    repr(rng.gauss(0, 1)),
                    rng.choice(words),
                    "" if rng.random() < 0.1 else rng.randrange(100),
                    f"2015-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                    " ".join(rng.choice(words) for _ in range(rng.randrange(1, 6))),
                    f"{rng.choice(words)}, {rng.choice(words)}",
                    f"{rng.uniform(-90, 90):.6f}",
                ]
            )


def prepare(work: Path, rows: int) -> dict[str, Path]:
    """The CSV and its compressed copies, made once per row count."""
    folder = work / f"data-{rows}"
    folder.mkdir(parents=True, exist_ok=True)
    plain, gz, bz = folder / "bench.csv", folder / "bench.csv.gz", folder / "bench.csv.bz2"
    if not plain.exists():
        print(f"generating {rows:,} rows ...", flush=True)
        generate(plain.with_suffix(".tmp"), rows)
        plain.with_suffix(".tmp").rename(plain)
    if not gz.exists():
        with open(plain, "rb") as source, gzip.open(gz.with_suffix(".tmp"), "wb", compresslevel=6) as target:
            shutil.copyfileobj(source, target, 1 << 20)
        gz.with_suffix(".tmp").rename(gz)
    if not bz.exists():
        if shutil.which("lbzip2"):
            with open(bz.with_suffix(".tmp"), "wb") as target:
                subprocess.run(["lbzip2", "-c", str(plain)], stdout=target, check=True)
        else:
            with open(plain, "rb") as source, bz2.open(bz.with_suffix(".tmp"), "wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
        bz.with_suffix(".tmp").rename(bz)
    return {"csv": plain, "gz": gz, "bz2": bz}


def prepare_jsonl(work: Path, rows: int, plain: Path) -> dict[str, Path]:
    """The same rows as JSON Lines (numbers as JSON numbers, empty fields as null), and gzipped."""
    folder = work / f"data-{rows}"
    lines, gz = folder / "bench.jsonl", folder / "bench.jsonl.gz"
    if not lines.exists():
        with open(plain, newline="") as source, open(lines.with_suffix(".tmp"), "w") as target:
            reader = csv.reader(source)
            names = next(reader)
            numeric = {"id", "count", "price", "score", "maybe", "lat"}
            for row in reader:
                record = {
                    n: (None if v == "" else json.loads(v) if n in numeric else v)
                    for n, v in zip(names, row, strict=True)
                }
                target.write(json.dumps(record) + "\n")
        lines.with_suffix(".tmp").rename(lines)
    if not gz.exists():
        with open(lines, "rb") as source, gzip.open(gz.with_suffix(".tmp"), "wb", compresslevel=6) as target:
            shutil.copyfileobj(source, target, 1 << 20)
        gz.with_suffix(".tmp").rename(gz)
    return {"jsonl": lines, "jsonl.gz": gz}


def prepare_json_array(work: Path, rows: int, lines: Path) -> Path:
    """The JSON Lines rows as one pretty-printed JSON array, gzipped."""
    array = work / f"data-{rows}" / "bench.json.gz"
    if not array.exists():
        with open(lines) as source, gzip.open(array.with_suffix(".tmp"), "wt", compresslevel=6) as target:
            target.write("[\n")
            for number, line in enumerate(source):
                target.write(("" if number == 0 else ",\n") + "  " + line.rstrip("\n"))
            target.write("\n]\n")
        array.with_suffix(".tmp").rename(array)
    return array


def prepare_endless(work: Path, megabytes: int) -> Path:
    """A .csv.gz of a header, one row, then one line of ``megabytes`` MB (compressed: a few MB)."""
    path = work / f"endless-{megabytes}" / "endless.csv.gz"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        block = b"x" * (1 << 20)
        with gzip.open(path.with_suffix(".tmp"), "wb", compresslevel=1) as target:
            target.write(b"a,b\n1,2\n")
            for _ in range(megabytes):
                target.write(block)
        path.with_suffix(".tmp").rename(path)
    return path


def prepare_xml(work: Path, megabytes: int) -> Path:
    """An XML row dump whose first row has one attribute of ``megabytes`` MB."""
    path = work / f"xml-{megabytes}" / "posts.xml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "x" * (megabytes << 20)
        rows = "".join(f'  <row Id="{i}" Score="{i % 7}"/>\n' for i in range(2, 1000))
        path.write_text(f'<posts>\n  <row Id="1" Body="{body}"/>\n{rows}</posts>\n')
    return path


def check_cost(work: Path, plain: Path, package: str, repeat: int) -> dict[str, float]:
    """The CPU time of the checks that bound memory and find dates during a load of the plain
    CSV (line limit: ``LineLimit.check``; dates: ``inference.temporal_kind``, timed in the
    threads that run them), and the load's wall time, best of ``repeat``. CPU time, unlike
    the difference of two wall times, is not drowned by the other work of a shared machine."""
    root = scratch_project(work, "checks-project", plain)
    code = textwrap.dedent(f"""
        import json, time
        from {package} import etl
        from {package}.etl import inference, rawfiles
        spent = {{"limit": 0.0, "dates": 0.0}}
        def timed(name, function):
            def run(*args):
                started = time.thread_time()
                try:
                    return function(*args)
                finally:
                    spent[name] += time.thread_time() - started
            return run
        rawfiles.LineLimit.check = timed("limit", rawfiles.LineLimit.check)
        inference.temporal_kind = timed("dates", inference.temporal_kind)
        best = None
        for _ in range({repeat}):
            spent.update(limit=0.0, dates=0.0)
            started = time.perf_counter()
            (report,) = etl.run(quiet=True, force=True)
            assert report.status == "loaded", report.error
            result = {{"load": time.perf_counter() - started, **spent}}
            best = result if best is None or result["load"] < best["load"] else best
        print(json.dumps(best))
    """)
    env = {**os.environ, "PROJECT_ROOT": str(root)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return json.loads(done.stdout)


def measure_failing(command: list[str], env: dict | None = None) -> tuple[float, int]:
    """Run a command that must fail with one line of output; wall seconds and its peak RSS (MB)."""
    import tempfile

    started = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        output.seek(0)
        lines = output.read().decode(errors="replace").splitlines()
    if os.waitstatus_to_exitcode(status) == 0:
        raise SystemExit("benchmark: the endless line was not refused")
    for line in lines:
        print(f"    {line[:240]}")
    return seconds, usage.ru_maxrss // 1024


def measure(
    *commands: list[str], stdin_file: Path | None = None, env: dict | None = None
) -> tuple[float, int]:
    """Run a pipeline (each command's stdout into the next); wall seconds and the largest peak RSS (MB)."""
    started = time.perf_counter()
    processes = []
    previous = open(stdin_file, "rb") if stdin_file else subprocess.DEVNULL  # noqa: SIM115
    for index, command in enumerate(commands):
        last = index == len(commands) - 1
        process = subprocess.Popen(
            command,
            stdin=previous,
            stdout=subprocess.DEVNULL if last else subprocess.PIPE,
            stderr=subprocess.PIPE if last else None,
            env={**os.environ, **(env or {})},
        )
        if previous not in (None, subprocess.DEVNULL):
            previous.close()
        previous = process.stdout
        processes.append(process)
    peak, failed = 0, []
    for process in processes:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        peak = max(peak, usage.ru_maxrss // 1024)
        if process.returncode:
            failed.append(
                (process.args, process.returncode, process.stderr.read() if process.stderr else b"")
            )
    seconds = time.perf_counter() - started
    if failed:
        raise SystemExit(f"benchmark command failed: {failed[0]}")
    return seconds, peak


def best_of(repeat: int, *commands: list[str], env: dict | None = None, before=None) -> tuple[float, int]:
    """The fastest of ``repeat`` runs (a shared machine only ever slows a run down), largest RSS."""
    runs = []
    for _ in range(repeat):
        if before:
            before()
        runs.append(measure(*commands, env=env))
    return min(r[0] for r in runs), max(r[1] for r in runs)


# The floor of JSON Lines into SQLite with these parts: isal's gunzip on a thread of its own,
# Arrow's streaming JSON reader (every core), ADBC's ingest of each batch on a writer thread;
# nothing typed beyond what Arrow infers, and no number kept as written.
JSON_FLOOR = """
import os, queue, sys, threading
import adbc_driver_manager as adbc
import adbc_driver_sqlite
import pyarrow as pa
import pyarrow.json as pj
from isal import igzip_threaded

source, target = sys.argv[1:]
if os.path.exists(target):
    os.remove(target)
database = adbc_driver_sqlite.connect(target)
connection = adbc.AdbcConnection(database)
statement = adbc.AdbcStatement(connection)
for sql in ("PRAGMA journal_mode=DELETE", "PRAGMA synchronous=NORMAL", "BEGIN"):
    statement.set_sql_query(sql)
    statement.execute_update()
text = pa.schema([(name, pa.string()) for name in ("word", "date", "text", "quoted")])
reader = pj.open_json(  # the text stays text, as in the ETL (Arrow would make dates timestamps)
    igzip_threaded.open(source, "rb", threads=1),
    read_options=pj.ReadOptions(block_size=1 << 21),
    parse_options=pj.ParseOptions(explicit_schema=text, unexpected_field_behavior="infer"),
)
batches = queue.Queue(maxsize=2)


def write():
    mode = adbc.INGEST_OPTION_MODE_CREATE
    while (batch := batches.get()) is not None:
        insert = adbc.AdbcStatement(connection)
        insert.set_options(
            **{adbc.INGEST_OPTION_TARGET_TABLE: "bench", adbc.INGEST_OPTION_MODE: mode}
        )
        insert.bind(batch)
        insert.execute_update()
        insert.close()
        mode = adbc.INGEST_OPTION_MODE_APPEND


writer = threading.Thread(target=write)
writer.start()
for batch in reader:
    batches.put(batch)
batches.put(None)
writer.join()
statement.set_sql_query("COMMIT")
statement.execute_update()
"""


def scratch_project(work: Path, name: str, source: Path) -> Path:
    """A project folder (this project's pyproject.toml) whose data/raw holds one file."""
    root = work / name
    shutil.rmtree(root, ignore_errors=True)
    (root / "data" / "raw").mkdir(parents=True)
    shutil.copy(HERE / "pyproject.toml", root / "pyproject.toml")
    (root / "data" / "raw" / source.name).symlink_to(source)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the generated CSV")
    parser.add_argument("--work", type=Path, default=HERE / "build" / "bench-etl", help="scratch folder")
    parser.add_argument("--skip-slow", action="store_true", help="skip sqlite-utils and pandas to_sql")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each fast step; the best counts")
    parser.add_argument("--endless-mb", type=int, default=3000, help="size of the endless line, MB")
    args = parser.parse_args(argv)
    work = args.work.resolve()
    files = prepare(work, args.rows)
    half = prepare(work, args.rows // 2)
    invoke = str(Path(sys.executable).with_name("invoke"))
    sqlite3 = shutil.which("sqlite3")
    results: list[tuple[str, float, int]] = []

    def record(label: str, seconds: float, peak: int) -> None:
        results.append((label, seconds, peak))
        print(f"  {label:<48} {seconds:7.2f} s {peak:6d} MB", flush=True)

    def etl(source: Path, label: str) -> None:
        root = scratch_project(work, "project", source)
        env = {"PROJECT_ROOT": str(root)}

        def fresh() -> None:  # a new database each time, as the references get
            for database in (root / "data" / "processed").glob("*.sqlite*"):
                database.unlink()

        record(label, *best_of(args.repeat, [invoke, "etl", "--quiet"], env=env, before=fresh))

    sizes = {kind: f"{path.stat().st_size / 1e6:.0f} MB" for kind, path in files.items()}
    print(f"{args.rows:,} rows: {sizes['csv']} CSV, {sizes['gz']} .gz, {sizes['bz2']} .bz2")
    reference_db = work / "reference.sqlite"
    if sqlite3:
        reference_db.unlink(missing_ok=True)
        shell = [sqlite3, str(reference_db), ".import --csv /dev/stdin bench"]
        record(
            "sqlite3 .import via zcat (.gz, all TEXT)",
            *best_of(
                args.repeat, ["zcat", str(files["gz"])], shell, before=lambda: reference_db.unlink(True)
            ),
        )
    etl(files["gz"], "invoke etl (.gz, typed)")
    if shutil.which("lbzip2") and sqlite3:
        reference_db.unlink(missing_ok=True)
        shell = [sqlite3, str(reference_db), ".import --csv /dev/stdin bench"]
        record(
            "sqlite3 .import via lbzip2 -dc (.bz2)",
            *best_of(
                args.repeat,
                ["lbzip2", "-dc", str(files["bz2"])],
                shell,
                before=lambda: reference_db.unlink(True),
            ),
        )
    etl(files["bz2"], "invoke etl (.bz2, typed)")
    if sqlite3:
        reference_db.unlink(missing_ok=True)
        shell = [sqlite3, str(reference_db), f".import --csv {files['csv']} bench"]
        record(
            "sqlite3 .import (.csv, all TEXT)",
            *best_of(args.repeat, shell, before=lambda: reference_db.unlink(True)),
        )
    etl(files["csv"], "invoke etl (.csv, typed)")
    etl(half["gz"], f"invoke etl (.gz, half: {args.rows // 2:,} rows)")
    loaded = work / "project" / "data" / "processed"
    root = scratch_project(work, "project", files["gz"])
    measure([invoke, "etl", "--quiet"], env={"PROJECT_ROOT": str(root)})
    database = next(loaded.glob("*.sqlite"))
    if not args.skip_slow:
        utils = shutil.which("sqlite-utils") or os.environ.get("SQLITE_UTILS")
        if utils:
            reference_db.unlink(missing_ok=True)
            usage = subprocess.run([utils, "insert", "--help"], capture_output=True, text=True).stdout
            detect = ["--detect-types"] if "--detect-types" in usage else []  # the default from 4.0 on
            command = [utils, "insert", str(reference_db), "bench", str(files["csv"]), "--csv", *detect]
            record("sqlite-utils insert --csv --detect-types", *measure(command))
        else:
            print("  sqlite-utils: not installed, skipped (pip install sqlite-utils, or SQLITE_UTILS=path)")
        reference_db.unlink(missing_ok=True)
        code = textwrap.dedent(f"""
            import sqlite3, pandas as pd
            con = sqlite3.connect({str(reference_db)!r})
            for chunk in pd.read_csv({str(files["gz"])!r}, chunksize=100_000):
                chunk.to_sql("bench", con, if_exists="append", index=False)
            con.commit()
        """)
        record("pandas read_csv(chunksize) + to_sql", *measure([sys.executable, "-c", code]))
    read_sql = (
        "import sqlite3, pandas as pd; "
        f"pd.read_sql('SELECT * FROM bench', sqlite3.connect({str(database)!r}))"
    )
    record("pandas.read_sql of the table", *best_of(args.repeat, [sys.executable, "-c", read_sql]))
    package = next(p.name for p in (HERE / "src").iterdir() if (p / "data.py").exists())
    load = f"from {package} import data; data.load('bench')"
    record(
        "data.load of the table",
        *best_of(args.repeat, [sys.executable, "-c", load], env={"PROJECT_ROOT": str(root)}),
    )

    lines = prepare_jsonl(work, args.rows, files["csv"])
    etl(lines["jsonl.gz"], "invoke etl (.jsonl.gz, typed)")
    if not args.skip_slow and (utils := shutil.which("sqlite-utils") or os.environ.get("SQLITE_UTILS")):
        reference_db.unlink(missing_ok=True)
        command = [utils, "insert", str(reference_db), "bench", str(lines["jsonl"]), "--nl"]
        record("sqlite-utils insert --nl (.jsonl)", *measure(command))
    floor = [sys.executable, "-c", JSON_FLOOR, str(lines["jsonl.gz"]), str(work / "floor.sqlite")]
    record("floor: Arrow's JSON reader + ingest, untyped", *best_of(args.repeat, floor))

    arrays = prepare_json_array(work, args.rows, lines["jsonl"])
    halves = prepare_json_array(
        work, args.rows // 2, prepare_jsonl(work, args.rows // 2, half["csv"])["jsonl"]
    )
    etl(arrays, "invoke etl (.json.gz array, typed)")
    etl(halves, f"invoke etl (.json.gz array, half: {args.rows // 2:,} rows)")
    checks = check_cost(work, files["csv"], package, args.repeat + 1)
    endless = prepare_endless(work, args.endless_mb)
    root = scratch_project(work, "endless-project", endless)
    seconds, endless_peak = measure_failing([invoke, "etl", "--quiet"], env={"PROJECT_ROOT": str(root)})
    label = f"invoke etl (one endless line, {args.endless_mb} MB)"
    print(f"  {label:<48} {seconds:7.2f} s {endless_peak:6d} MB")
    xml_times = []
    for mb in (16, 32):
        root = scratch_project(work, f"xml-project-{mb}", prepare_xml(work, mb))
        seconds, peak = measure([invoke, "etl", "--quiet"], env={"PROJECT_ROOT": str(root)})
        record(f"invoke etl (.xml, one {mb} MB attribute)", seconds, peak)
        xml_times.append(seconds)

    timing = {label: (seconds, peak) for label, seconds, peak in results}

    def ratio(ours: str, reference: str, goal: str) -> None:
        if ours in timing and reference in timing:
            value = timing[ours][0] / timing[reference][0]
            print(f"  {ours} / {reference}: {value:.2f} (goal {goal})")

    print("ratios (ours / reference):")
    ratio("invoke etl (.gz, typed)", "sqlite3 .import via zcat (.gz, all TEXT)", "<= 0.8")
    ratio("invoke etl (.csv, typed)", "sqlite3 .import (.csv, all TEXT)", "<= 0.75")
    ratio("invoke etl (.bz2, typed)", "sqlite3 .import via lbzip2 -dc (.bz2)", "<= 1.0")
    ratio("invoke etl (.gz, typed)", "sqlite-utils insert --csv --detect-types", "<= 0.05")
    ratio("invoke etl (.gz, typed)", "pandas read_csv(chunksize) + to_sql", "")
    ratio("data.load of the table", "pandas.read_sql of the table", "<= 0.4")
    ratio("invoke etl (.jsonl.gz, typed)", "sqlite-utils insert --nl (.jsonl)", "<= 0.08")
    ratio("floor: Arrow's JSON reader + ingest, untyped", "sqlite-utils insert --nl (.jsonl)", "")
    full, halfway = (
        timing["invoke etl (.gz, typed)"][1],
        timing[f"invoke etl (.gz, half: {args.rows // 2:,} rows)"][1],
    )
    print(
        f"  peak RSS of invoke etl: {full} MB for {args.rows:,} rows, {halfway} MB for half "
        "(goal <= 300 MB, flat)"
    )
    full, halfway = (
        timing["invoke etl (.json.gz array, typed)"][1],
        timing[f"invoke etl (.json.gz array, half: {args.rows // 2:,} rows)"][1],
    )
    print(f"  peak RSS of invoke etl on a JSON array: {full} MB, {halfway} MB for half (goal: flat)")
    cost = (checks["limit"] + checks["dates"]) / checks["load"]
    print(
        f"  checks: line limit {checks['limit']:.3f} s, dates {checks['dates']:.3f} s of CPU in a "
        f"{checks['load']:.2f} s load of the plain CSV: {cost:.1%} (goal < 5%)"
    )
    print(f"  endless line: {endless_peak} MB peak RSS (goal < 1024 MB), refused in one line")
    print(f"  XML attribute 32 MB / 16 MB: {xml_times[1] / xml_times[0]:.2f} (linear: about 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
