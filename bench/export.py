#!/usr/bin/env python3
"""Exports: Variosync against DuckDB's `COPY ... TO`, from the same Parquet, in the same run.

Generates the long-layout OHLCV CSV of `bench/convert.py` (10 million rows; `--layout time`
by default: 100 symbols interleaved by minute, as market dumps are), makes it a dataset's
stored part with `variosync convert` (release build), then writes that part out with

  * variosync: `export_file PART OUT` (the example of `variosync-app`: the scan and the
    writers a dataset's export uses, without HTTP), to CSV, Parquet and, for the first
    million rows, Excel;
  * DuckDB: `COPY (SELECT * FROM read_parquet(PART)) TO OUT (FORMAT csv)` and to Parquet
    (zstd);

and reports seconds, rows per second and the peak resident memory of each process (`wait4`).

Usage: python3 bench/export.py [--layout series|time] [--rows N] [--runs N] [--dir DIR]
                               [--no-build]
"""

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from convert import ROOT, VENV, ensure_venv, generate, measure  # noqa: E402


def build(target: Path):
    subprocess.run(
        [
            "cargo", "build", "--release", "-p", "variosync", "--bin", "variosync",
            "-p", "variosync-app", "--example", "export_file",
        ],
        cwd=ROOT,
        check=True,
    )
    return target / "release" / "variosync", target / "release" / "examples" / "export_file"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--excel-rows", type=int, default=1_000_000)
    parser.add_argument("--layout", choices=["series", "time"], default="time")
    parser.add_argument("--runs", type=int, default=1, help="runs per tool; the fastest counts")
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp/variosync-bench"))
    parser.add_argument("--no-build", action="store_true", help="use the binaries already built")
    args = parser.parse_args()
    ensure_venv()
    import duckdb

    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    if args.no_build:
        variosync = target / "release" / "variosync"
        export_file = target / "release" / "examples" / "export_file"
    else:
        variosync, export_file = build(target)
    args.dir.mkdir(parents=True, exist_ok=True)
    parts = {}
    for rows in sorted({args.rows, args.excel_rows}):
        suffix = "" if args.layout == "series" else "_by_time"
        csv = args.dir / f"ohlcv_{rows}{suffix}.csv"
        if not csv.exists():
            print(f"generating {csv} ...", flush=True)
            generate(csv, rows, args.layout)
        part = args.dir / f"part_{rows}{suffix}.parquet"
        if not part.exists():
            subprocess.run([str(variosync), "convert", str(csv), str(part)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        parts[rows] = part

    python = str(VENV / "bin" / "python")
    copy = (
        "import duckdb, sys; "
        "duckdb.connect().execute(f\"COPY (SELECT * FROM read_parquet('{sys.argv[1]}')) "
        "TO '{sys.argv[2]}' ({sys.argv[3]})\")"
    )
    cases = [
        ("variosync", "csv", args.rows, lambda p, o: [str(export_file), str(p), str(o)]),
        ("duckdb", "csv", args.rows, lambda p, o: [python, "-c", copy, str(p), str(o), "FORMAT csv"]),
        ("variosync", "parquet", args.rows, lambda p, o: [str(export_file), str(p), str(o)]),
        (
            "duckdb",
            "parquet",
            args.rows,
            lambda p, o: [python, "-c", copy, str(p), str(o), "FORMAT parquet, COMPRESSION zstd"],
        ),
        ("variosync", "xlsx", args.excel_rows, lambda p, o: [str(export_file), str(p), str(o)]),
    ]
    print(f"{os.cpu_count()} cores; {args.layout} order", flush=True)
    print("| tool | format | rows | seconds | rows/s | peak memory (MB) | output (MB) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for tool, extension, rows, command in cases:
        out = args.dir / f"export_{tool}.{extension}"
        best = None
        for _ in range(args.runs):
            out.unlink(missing_ok=True)
            seconds, peak = measure(command(parts[rows], out))
            if best is None or seconds < best[0]:
                best = (seconds, peak)
        seconds, peak = best
        if extension == "parquet":
            written = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchall()[0][0]
            assert written == rows, f"{tool} wrote {written} rows"
        elif extension == "csv":
            with open(out, "rb") as file:
                written = sum(chunk.count(b"\n") for chunk in iter(lambda: file.read(1 << 24), b"")) - 1
            assert written == rows, f"{tool} wrote {written} rows"
        print(
            f"| {tool} | {extension} | {rows} | {seconds:.2f} | {rows / seconds / 1e6:.2f} M | "
            f"{peak:.0f} | {out.stat().st_size / 1e6:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
