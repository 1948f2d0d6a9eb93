#!/usr/bin/env python3
"""Chart windows under load: one series of 10 million minute bars, asked for with an API key
by `oha` (50 connections for 20 s, and one connection alone), for the whole range and for
one day in the middle, plus the dataset list (the path that records the key's use).

Generates `series_10000000.csv` (one series, open/high/low/close/volume, a random walk) with
polars in the benchmark's virtual environment, imports it with `variosync import` into a
fresh data folder (SQLite, local objects), starts `variosync serve`, and prints a table of
requests per second and latency percentiles for each binary given, so two builds (before
and after a change) compare in one run on one machine.

Needs `oha` on the PATH (`cargo install oha`).

Usage: python3 bench/window_load.py [--seconds 20] [--connections 50] BIN [BIN...]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROWS = 10_000_000
EMAIL = "load@example.com"
MINUTE_US = 60_000_000
START_S = 1_420_070_400  # 2015-01-01T00:00:00Z
VENV = Path(os.environ.get("VARIOSYNC_BENCH_VENV", "/var/tmp/variosync-bench-venv"))


def ensure_venv():
    python = VENV / "bin" / "python"
    if Path(sys.prefix) == VENV:
        return
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "polars==2.1.0", "numpy==2.4.6"], check=True)
    os.execv(str(python), [str(python), *sys.argv])


def generate(path: Path):
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(11)
    close = np.round(100 * np.exp(rng.normal(0, 0.001, ROWS).cumsum()), 4)
    spread = np.abs(rng.normal(0, 0.0005, ROWS)) * close
    table = pl.DataFrame(
        {
            "timestamp": ((START_S + np.arange(ROWS) * 60) * 1000).astype("datetime64[ms]"),
            "open": np.round(close - spread / 2, 4),
            "high": np.round(close + spread, 4),
            "low": np.round(close - spread, 4),
            "close": close,
            "volume": rng.integers(100, 100_000, ROWS),
        }
    )
    partial = path.with_suffix(".partial")
    table.write_csv(partial, datetime_format="%Y-%m-%d %H:%M:%S")
    partial.rename(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url, body, headers=None):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("content-type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    with urllib.request.urlopen(request) as response:
        return {k.lower(): v for k, v in response.headers.items()}, json.loads(response.read())


def get(url, key):
    request = urllib.request.Request(url)
    request.add_header("authorization", f"Bearer {key}")
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def oha(url, key, seconds, connections):
    out = subprocess.run(
        ["oha", "-z", f"{seconds}s", "-c", str(connections), "--no-tui", "--output-format", "json",
         "-H", f"authorization: Bearer {key}", url],
        capture_output=True, text=True, check=True,
    ).stdout
    result = json.loads(out)
    percentiles = result["latencyPercentiles"]
    codes = result.get("statusCodeDistribution", {})
    return {
        "rps": result["summary"]["requestsPerSec"],
        "p50": percentiles["p50"] * 1000,
        "p99": percentiles["p99"] * 1000,
        "ok": all(code.startswith("2") for code in codes),
    }


def measure(binary: Path, csv: Path, seconds: int, connections: int):
    data = Path(tempfile.mkdtemp(prefix="variosync-load-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, VARIOSYNC_DATA_DIR=str(data), VARIOSYNC_LISTEN=f"127.0.0.1:{port}",
               VARIOSYNC_LOG_LEVEL="error", VARIOSYNC_RATE_LIMIT_API_PER_MINUTE="100000000")
    for name in ("VARIOSYNC_DATABASE_URL", "VARIOSYNC_REDIS_URL", "VARIOSYNC_CONFIG"):
        env.pop(name, None)
    run = lambda *args: subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, check=True).stdout
    run("migrate")
    token = run("admin", "create-user", "--email", EMAIL, "--admin").split("token=")[1].split()[0]
    run("import", "--user", EMAIL, "--name", "load", str(csv))
    server = subprocess.Popen([str(binary), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        headers, body = post(f"{base}/api/v1/auth/magic-link/confirm", {"token": token})
        session = {"cookie": headers["set-cookie"].split(";")[0], "x-csrf-token": body["csrf_token"]}
        _, created = post(f"{base}/api/v1/api-keys", {"name": "load", "scope": "read"}, session)
        key = created["secret"]
        dataset = get(f"{base}/api/v1/datasets", key)[0]
        series = get(f"{base}/api/v1/datasets/{dataset['id']}", key)["version"]["series"][0]
        window = f"{base}/api/v1/datasets/{dataset['id']}/series/{series}/window?points=2000&columns=close"
        middle_ms = (START_S + ROWS * 30) * 1000
        day = f"{window}&from={middle_ms}&to={middle_ms + 86_400_000}"
        rows = []
        for label, url in [("whole range", window), ("one day", day), ("dataset list", f"{base}/api/v1/datasets")]:
            get(url, key)  # warm the caches
            alone = oha(url, key, max(5, seconds // 4), 1)
            loaded = oha(url, key, seconds, connections)
            rows.append((label, alone, loaded))
        return rows
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        shutil.rmtree(data, ignore_errors=True)


def main():
    ensure_venv()
    parser = argparse.ArgumentParser()
    parser.add_argument("bins", nargs="+", type=Path)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--dir", type=Path, default=Path("/var/tmp/variosync-bench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    csv = args.dir / f"series_{ROWS}.csv"
    if not csv.exists():
        generate(csv)
    print(f"{ROWS} rows of one series; oha, {args.connections} connections for {args.seconds} s, and 1 alone; {os.cpu_count()} cores")
    print("| binary | request | alone p50 (ms) | loaded req/s | loaded p50 (ms) | loaded p99 (ms) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for binary in args.bins:
        for label, alone, loaded in measure(binary, csv, args.seconds, args.connections):
            note = "" if alone["ok"] and loaded["ok"] else " (errors)"
            print(f"| {binary.name} | {label}{note} | {alone['p50']:.2f} | {loaded['rps']:.0f} | "
                  f"{loaded['p50']:.2f} | {loaded['p99']:.2f} |")


if __name__ == "__main__":
    main()
