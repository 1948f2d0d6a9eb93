#!/usr/bin/env python3
"""CSV -> zstd Parquet: Variosync against polars and DuckDB, in the same run.

Generates a long-layout OHLCV CSV of minute bars, 10 million rows, about 700 MB, in one of
two orders: `--layout series` (20 symbols, sorted by symbol and time, as per-symbol exports
are) or `--layout time` (100 symbols interleaved by minute: every symbol at one minute,
then the next, as market dumps are). Then it converts it with

  * variosync: `variosync convert IN OUT` (timestamps to UTC, sort check, duplicates,
    profile, zstd Parquet with page statistics);
  * polars: `scan_csv(try_parse_dates=True).sink_parquet(compression="zstd")`;
  * DuckDB: `COPY (SELECT * FROM read_csv(IN)) TO OUT (FORMAT parquet, COMPRESSION zstd)`;

and reports seconds, MB/s of input and the peak resident memory of each process, plus the
rows each output holds. polars and DuckDB are installed from PyPI into a virtual
environment on first use.

Usage: python3 bench/convert.py [--layout series|time] [--rows N] [--runs N] [--dir DIR]
                                [--bin PATH]
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("VARIOSYNC_BENCH_VENV", "/var/tmp/variosync-bench-venv"))
PACKAGES = ["polars==2.1.0", "duckdb==2.0.0", "numpy==2.4.6"]


def ensure_venv():
    """Re-runs this script inside the benchmark's virtual environment."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix) == VENV:
        return
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    os.execv(str(python), [str(python), *sys.argv])


def generate(path: Path, rows: int, layout: str):
    import numpy as np
    import polars as pl

    symbols = 20 if layout == "series" else 100
    per_symbol = rows // symbols
    rng = np.random.default_rng(7)
    frames = []
    start = np.datetime64("2015-01-02T00:00:00", "s")
    for s in range(symbols):
        steps = rng.normal(0, 0.001, per_symbol).cumsum()
        close = np.round(100 * np.exp(steps), 4)
        spread = np.abs(rng.normal(0, 0.0005, per_symbol)) * close
        frames.append(
            pl.DataFrame(
                {
                    "symbol": [f"SYM{s:02d}"] * per_symbol,
                    "timestamp": (start + np.arange(per_symbol) * 60).astype("datetime64[ms]"),
                    "open": np.round(close - spread / 2, 4),
                    "high": np.round(close + spread, 4),
                    "low": np.round(close - spread, 4),
                    "close": close,
                    "volume": rng.integers(100, 100_000, per_symbol),
                }
            )
        )
    table = pl.concat(frames)
    if layout == "time":
        # Every symbol at one minute, then the next minute (a stable sort keeps the symbols
        # in their order within a minute).
        table = table.sort("timestamp", maintain_order=True)
    tmp = path.with_suffix(".partial")
    table.write_csv(tmp, datetime_format="%Y-%m-%d %H:%M:%S")
    tmp.rename(path)


def measure(command, env=None):
    """Runs a command; returns (seconds, peak RSS in MB)."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    stderr = process.stderr.read().decode(errors="replace")
    if status != 0:
        raise SystemExit(f"{command[0]} failed:\n{stderr}")
    return elapsed, usage.ru_maxrss / 1024


def count_rows(path: Path) -> int:
    import duckdb

    return duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--layout", choices=["series", "time"], default="series")
    parser.add_argument("--runs", type=int, default=1, help="runs per tool; the fastest counts")
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp/variosync-bench"))
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    parser.add_argument("--bin", type=Path, default=target / "release" / "variosync")
    args = parser.parse_args()
    ensure_venv()

    args.dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.layout == "series" else "_by_time"
    csv = args.dir / f"ohlcv_{args.rows}{suffix}.csv"
    if not csv.exists():
        print(f"generating {csv} ...", flush=True)
        generate(csv, args.rows, args.layout)
    size_mb = csv.stat().st_size / 1e6
    if not args.bin.exists():
        subprocess.run(["cargo", "build", "--release", "--bin", "variosync"], cwd=ROOT, check=True)

    python = str(VENV / "bin" / "python")
    polars = (
        "import polars as pl, sys; "
        "pl.scan_csv(sys.argv[1], try_parse_dates=True).sink_parquet(sys.argv[2], compression='zstd')"
    )
    duckdb = (
        "import duckdb, sys; "
        "duckdb.connect().execute(f\"COPY (SELECT * FROM read_csv('{sys.argv[1]}')) TO '{sys.argv[2]}' "
        "(FORMAT parquet, COMPRESSION zstd)\")"
    )
    tools = {
        "variosync": lambda out: [str(args.bin), "convert", str(csv), str(out)],
        "polars": lambda out: [python, "-c", polars, str(csv), str(out)],
        "duckdb": lambda out: [python, "-c", duckdb, str(csv), str(out)],
    }
    print(
        f"input: {csv} ({size_mb:.0f} MB, {args.rows} rows, {args.layout} order); "
        f"{os.cpu_count()} cores",
        flush=True,
    )
    print("| tool | seconds | MB/s | peak memory (MB) | output (MB) | rows |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, command in tools.items():
        out = args.dir / f"{name}.parquet"
        best = None
        for _ in range(args.runs):
            out.unlink(missing_ok=True)
            seconds, peak = measure(command(out))
            if best is None or seconds < best[0]:
                best = (seconds, peak)
        seconds, peak = best
        rows = count_rows(out)
        print(
            f"| {name} | {seconds:.2f} | {size_mb / seconds:.0f} | {peak:.0f} | "
            f"{out.stat().st_size / 1e6:.0f} | {rows} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
