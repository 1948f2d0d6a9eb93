#!/usr/bin/env python3
"""Forecast accuracy and speed: Variosync's models against statsforecast and prophet.

Every series of the M4 subsets in ../shared/data (yearly, quarterly, monthly, weekly,
daily, hourly) and AirPassengers is cut before its last h values (the M4 horizons:
6, 8, 18, 13, 14, 48; 12 for AirPassengers); each model is fitted on the rest and
forecasts h steps with a 95% interval. In the same run:

  * variosync: `cargo run --release -p variosync-forecast --features prophet --example m4`
    (every model; hourly series also get their weekly season, 168, which only MSTL uses;
    one untimed Prophet fit first compiles its Stan model, as numba compiles below);
  * statsforecast: SeasonalNaive, AutoETS, AutoARIMA, AutoTheta, each through
    `model.forecast(y, h, level=[95])`, after one untimed call that compiles numba code;
  * prophet: `Prophet(interval_width=0.95).fit(df)` then `predict(future)` on the held-out
    dates, after one untimed fit that loads its Stan model.

Both sides run single-threaded (numba, BLAS and OpenMP pinned to one thread). Seconds are
per series, fit plus predict. sMAPE is on the 0-200 scale; MASE divides by the in-sample
seasonal naive error with the M4 season (1, 4, 12, 1, 1, 24; 12 for AirPassengers).
statsforecast and prophet are installed from PyPI into a virtual environment on first use.

Usage: python3 bench/forecast.py [--data DIR] [--models ets,arima,...] [--no-peers]
       [--peers statsforecast,prophet] [--json OUT] [--peers-from EARLIER.json]
"""

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[variable] = "1"

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("VARIOSYNC_BENCH_VENV", "/var/tmp/variosync-bench-venv"))
PACKAGES = ["statsforecast==2.1.1", "prophet==1.5.0", "pandas==2.3.3", "numpy==2.4.6"]

# name, file, horizon, season
DATASETS = [
    ("yearly", "m4_yearly.csv", 6, 1),
    ("quarterly", "m4_quarterly.csv", 8, 4),
    ("monthly", "m4_monthly.csv", 18, 12),
    ("weekly", "m4_weekly.csv", 13, 1),
    ("daily", "m4_daily.csv", 14, 1),
    ("hourly", "m4_hourly.csv", 48, 24),
    ("air_passengers", "air_passengers.csv", 12, 12),
]


def ensure_venv():
    """Re-runs this script inside the benchmark's virtual environment."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix) == VENV:
        return
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    os.execv(str(python), [str(python), *sys.argv])


def load(data: Path):
    """{dataset: [(id, dates, values)]} with the horizon and season of each dataset."""
    out = {}
    for name, file, horizon, season in DATASETS:
        series = {}
        with open(data / file, newline="") as handle:
            reader = csv.reader(handle)
            next(reader)
            for row in reader:
                key, date, value = row if len(row) == 3 else ("AirPassengers", *row)
                series.setdefault(key, ([], []))
                series[key][0].append(date)
                series[key][1].append(float(value))
        out[name] = (horizon, season, sorted((k, d, v) for k, (d, v) in series.items()))
    return out


def smape(actual, forecast):
    terms = [
        0.0 if abs(a) + abs(f) == 0 else 200.0 * abs(a - f) / (abs(a) + abs(f))
        for a, f in zip(actual, forecast)
    ]
    return sum(terms) / len(terms)


def mase(actual, forecast, history, season):
    m = season if len(history) > season else 1
    scale = sum(abs(history[i] - history[i - m]) for i in range(m, len(history))) / (len(history) - m)
    mae = sum(abs(a - f) for a, f in zip(actual, forecast)) / len(actual)
    return mae / scale if scale > 0 else float("nan")


def coverage(actual, lower, upper):
    return 100.0 * sum(1 for a, lo, hi in zip(actual, lower, upper) if lo <= a <= hi) / len(actual)


def run_variosync(data: Path, models):
    command = [
        "cargo", "run", "--quiet", "--release", "-p", "variosync-forecast", "--features", "prophet",
        "--example", "m4", "--", str(data), *models,
    ]
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)
    rows = []
    for row in csv.DictReader(io.StringIO(done.stdout)):
        rows.append(
            {
                "side": "variosync",
                "dataset": row["dataset"],
                "id": row["id"],
                "model": row["model"],
                "chosen": row["chosen"],
                "seconds": float(row["seconds"]),
                "forecast": [float(v) for v in row["forecast"].split(";")],
                "lower": [float(v) for v in row["lower95"].split(";")],
                "upper": [float(v) for v in row["upper95"].split(";")],
            }
        )
    return rows


def run_peers(datasets, which=("statsforecast", "prophet")):
    import logging

    import numpy as np
    import pandas as pd
    from prophet import Prophet
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, SeasonalNaive

    logging.getLogger("cmdstanpy").disabled = True
    logging.getLogger("prophet").disabled = True
    peers = {
        "seasonal_naive": SeasonalNaive,
        "ets": AutoETS,
        "arima": AutoARIMA,
        "theta": AutoTheta,
    }
    if "statsforecast" not in which:
        peers = {}
    # Compile the numba code and load prophet's Stan model once, untimed.
    warm = np.sin(np.arange(60) / 3.0) + np.arange(60) * 0.1 + 10
    for make in peers.values():
        make(season_length=12).forecast(y=warm, h=6, level=[95])
    if "prophet" in which:
        days = pd.date_range("2020-01-01", periods=60, freq="D")
        Prophet().fit(pd.DataFrame({"ds": days, "y": warm}))
    rows = []
    for name, (horizon, season, series) in datasets.items():
        for key, dates, values in series:
            train, test = np.array(values[:-horizon]), values[-horizon:]
            for model, make in peers.items():
                started = time.perf_counter()
                out = make(season_length=season).forecast(y=train, h=horizon, level=[95])
                seconds = time.perf_counter() - started
                rows.append(
                    {
                        "side": "statsforecast",
                        "dataset": name,
                        "id": key,
                        "model": model,
                        "seconds": seconds,
                        "forecast": [float(v) for v in out["mean"]],
                        "lower": [float(v) for v in out["lo-95"]],
                        "upper": [float(v) for v in out["hi-95"]],
                    }
                )
            if "prophet" not in which:
                continue
            frame = pd.DataFrame({"ds": pd.to_datetime(dates[:-horizon]).tz_localize(None), "y": train})
            future = pd.DataFrame({"ds": pd.to_datetime(dates[-horizon:]).tz_localize(None)})
            started = time.perf_counter()
            fitted = Prophet(interval_width=0.95).fit(frame)
            predicted = fitted.predict(future)
            seconds = time.perf_counter() - started
            rows.append(
                {
                    "side": "python-prophet",
                    "dataset": name,
                    "id": key,
                    "model": "prophet",
                    "seconds": seconds,
                    "forecast": [float(v) for v in predicted["yhat"]],
                    "lower": [float(v) for v in predicted["yhat_lower"]],
                    "upper": [float(v) for v in predicted["yhat_upper"]],
                }
            )
    return rows


def score(rows, datasets):
    actuals = {
        (name, key): (values[:-horizon], values[-horizon:], season)
        for name, (horizon, season, series) in datasets.items()
        for key, _, values in series
    }
    table = {}
    for row in rows:
        history, actual, season = actuals[(row["dataset"], row["id"])]
        entry = table.setdefault((row["dataset"], row["side"], row["model"]), [])
        entry.append(
            (
                smape(actual, row["forecast"]),
                mase(actual, row["forecast"], history, season),
                coverage(actual, row["lower"], row["upper"]),
                row["seconds"],
            )
        )
    return table


def report(table, datasets):
    lines = []
    # Every series of every dataset together: the mean over all of them.
    overall = {}
    for (dataset, side, model), scores in table.items():
        overall.setdefault((side, model), []).extend(scores)
    lines.append("\nall series\n")
    lines.append("| side | model | series | mean sMAPE | mean MASE | 95% coverage | ms per series |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for (side, model), scores in sorted(overall.items()):
        n = len(scores)
        mean = lambda i: sum(s[i] for s in scores) / n  # noqa: E731
        lines.append(
            f"| {side} | {model} | {n} | {mean(0):.2f} | {mean(1):.3f} | {mean(2):.0f}% | {1000 * mean(3):.1f} |"
        )
    for name in datasets:
        lines.append(f"\n{name}\n")
        lines.append("| side | model | series | mean sMAPE | mean MASE | 95% coverage | ms per series |")
        lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for (dataset, side, model), scores in sorted(table.items()):
            if dataset != name:
                continue
            n = len(scores)
            mean = lambda i: sum(s[i] for s in scores) / n  # noqa: E731
            lines.append(
                f"| {side} | {model} | {n} | {mean(0):.2f} | {mean(1):.3f} | {mean(2):.0f}% | {1000 * mean(3):.1f} |"
            )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--models", default="", help="comma-separated Variosync models (default: all)")
    parser.add_argument("--no-peers", action="store_true", help="only Variosync's models")
    parser.add_argument(
        "--peers", default="statsforecast,prophet", help="which peers to run: statsforecast, prophet or both"
    )
    parser.add_argument("--json", help="also write every forecast to this file")
    parser.add_argument(
        "--peers-from", help="read statsforecast's and prophet's forecasts from an earlier --json file"
    )
    args = parser.parse_args()
    if not args.no_peers and not args.peers_from:
        ensure_venv()
    data = Path(args.data)
    datasets = load(data)
    models = [m for m in args.models.split(",") if m]
    rows = run_variosync(data, models)
    if args.peers_from:
        rows += [r for r in json.loads(Path(args.peers_from).read_text()) if r["side"] != "variosync"]
    elif not args.no_peers:
        rows += run_peers(datasets, [p for p in args.peers.split(",") if p])
    table = score(rows, datasets)
    print(report(table, datasets))
    if args.json:
        Path(args.json).write_text(json.dumps(rows))


if __name__ == "__main__":
    main()
