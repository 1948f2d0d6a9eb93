#!/usr/bin/env python3
"""Writes the layout fixtures: small files in the shapes real exports have, made here from
the formats' documentation (no file is copied). Deterministic: run it again and nothing
changes. Each file's expected reading is in `expected.json`."""

import codecs
import json
import math
import os
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = {}


def write(name, text, expected, encoding="utf-8"):
    with open(os.path.join(HERE, name), "wb") as f:
        if encoding == "utf-16":
            f.write(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
        else:
            f.write(text.encode(encoding))
    EXPECTED[name] = expected


def price(i, base, scale=0.01):
    return base * (1 + scale * math.sin(i / 7.0) + scale * 0.3 * math.cos(i / 3.0))


def iso(at):
    return at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


UTC = timezone.utc

# Binance spot klines (GET /api/v3/klines, and data.binance.vision CSV): no header; open
# time in milliseconds, open, high, low, close, volume, close time, quote volume, trades,
# taker buy base volume, taker buy quote volume, ignore.
lines = []
start = datetime(2024, 1, 1, tzinfo=UTC)
for i in range(48):
    at = start + timedelta(hours=i)
    ms = int(at.timestamp() * 1000)
    o = price(i, 42000)
    c = price(i + 1, 42000)
    h, l = max(o, c) * 1.002, min(o, c) * 0.998
    v = 1000 + (i * 37) % 400
    lines.append(
        f"{ms},{o:.2f},{h:.2f},{l:.2f},{c:.2f},{v:.5f},{ms + 3599999},{v * c:.8f},"
        f"{40000 + i * 13},{v / 2:.5f},{v * c / 2:.8f},0"
    )
write("binance_btcusdt_1h.csv", "\n".join(lines) + "\n",
      {"rows": 48, "series": 1, "first": iso(start), "columns": 11})

# MetaTrader 4/5 history export (File > Save As, .csv): no header; date with dots, time of
# day, open, high, low, close, tick volume, volume, spread.
lines = []
start = datetime(2024, 1, 15, 9, 30, tzinfo=UTC)
for i in range(500):
    at = start + timedelta(minutes=i)
    o, c = price(i, 1.0950, 0.001), price(i + 1, 1.0950, 0.001)
    h, l = max(o, c) + 0.00005, min(o, c) - 0.00005
    lines.append(f"{at:%Y.%m.%d},{at:%H:%M},{o:.5f},{h:.5f},{l:.5f},{c:.5f},{50 + i % 90},0,{i % 3}")
write("metatrader_eurusd_m1.csv", "\r\n".join(lines) + "\r\n",
      {"rows": 500, "series": 1, "first": iso(start), "columns": 7})

# Stooq daily download (https://stooq.com/q/d/l/?s=spy.us&i=d).
lines = ["Date,Open,High,Low,Close,Volume"]
day = datetime(2024, 1, 2, tzinfo=UTC)
n = 0
while n < 60:
    if day.weekday() < 5:
        o, c = price(n, 470), price(n + 1, 470)
        lines.append(f"{day:%Y-%m-%d},{o:.2f},{max(o, c) + 1:.2f},{min(o, c) - 1:.2f},{c:.2f},{70000000 + n * 12345}")
        n += 1
    day += timedelta(days=1)
write("stooq_spy_d.csv", "\n".join(lines) + "\n",
      {"rows": 60, "series": 1, "first": "2024-01-02T00:00:00Z", "columns": 5})

# Yahoo Finance download.
lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
for i in range(40):
    day = datetime(2023, 3, 1, tzinfo=UTC) + timedelta(days=i)
    o, c = price(i, 250), price(i + 1, 250)
    lines.append(f"{day:%Y-%m-%d},{o:.6f},{max(o, c) + 2:.6f},{min(o, c) - 2:.6f},{c:.6f},{c * 0.99:.6f},{20000000 + i}")
write("yahoo_msft.csv", "\n".join(lines) + "\n",
      {"rows": 40, "series": 1, "first": "2023-03-01T00:00:00Z", "columns": 6})

# Kaggle "S&P 500 stock data" (all_stocks_5yr.csv): long, the ticker in a last column
# called Name, sorted by ticker then date.
lines = ["date,open,high,low,close,volume,Name"]
for t, ticker in enumerate(["AAL", "AAPL", "AMZN", "GOOGL", "MSFT"]):
    for i in range(40):
        day = datetime(2013, 2, 8, tzinfo=UTC) + timedelta(days=i)
        o, c = price(i + t, 50 + 30 * t), price(i + t + 1, 50 + 30 * t)
        lines.append(f"{day:%Y-%m-%d},{o:.2f},{max(o, c) + 0.5:.2f},{min(o, c) - 0.5:.2f},{c:.2f},{8000000 + i * 911},{ticker}")
write("kaggle_all_stocks_5yr.csv", "\n".join(lines) + "\n",
      {"rows": 200, "series": 5, "first": "2013-02-08T00:00:00Z", "columns": 5})

# FRED graph CSV download (fredgraph.csv): observation_date and the series id.
lines = ["observation_date,CPIAUCSL"]
for i in range(24):
    lines.append(f"{2022 + i // 12}-{i % 12 + 1:02d}-01,{281.148 + i * 0.6:.3f}")
write("fred_cpiaucsl.csv", "\n".join(lines) + "\n",
      {"rows": 24, "series": 1, "first": "2022-01-01T00:00:00Z", "columns": 1})

# FRED's tab-separated text download, as saved by Excel ("Unicode Text"): UTF-16 with a
# byte-order mark, tabs, CRLF; a day without an observation is empty.
lines = ["observation_date\tDGS10"]
day = datetime(2024, 1, 2, tzinfo=UTC)
n = 0
while n < 30:
    if day.weekday() < 5:
        value = "" if n == 10 else f"{3.9 + 0.02 * math.sin(n):.2f}"
        lines.append(f"{day:%Y-%m-%d}\t{value}")
        n += 1
    day += timedelta(days=1)
write("fred_dgs10_utf16.txt", "\r\n".join(lines) + "\r\n",
      {"rows": 30, "series": 1, "first": "2024-01-02T00:00:00Z", "columns": 1}, encoding="utf-16")

# A European broker export: semicolons, day.month.year, decimal comma with dot thousands.
def de(x):
    whole, frac = f"{x:,.2f}".split(".")
    return whole.replace(",", ".") + "," + frac

lines = ["Datum;Eröffnung;Hoch;Tief;Schluss;Volumen"]
for i in range(30):
    day = datetime(2024, 1, 2, tzinfo=UTC) + timedelta(days=i)
    o, c = price(i, 16750), price(i + 1, 16750)
    lines.append(f"{day:%d.%m.%Y};{de(o)};{de(max(o, c) + 20)};{de(min(o, c) - 20)};{de(c)};{60000000 + i * 1000}")
write("european_dax.csv", "\n".join(lines) + "\n",
      {"rows": 30, "series": 1, "first": "2024-01-02T00:00:00Z", "columns": 5}, encoding="utf-8")

# Walmart "Store Sales Forecasting" (train.csv): the series is a store and a department.
lines = ["Store,Dept,Date,Weekly_Sales,IsHoliday"]
for store in (1, 2, 3):
    for dept in (1, 2, 3, 4):
        for week in range(10):
            day = datetime(2010, 2, 5, tzinfo=UTC) + timedelta(weeks=week)
            sales = 20000 + store * 1000 + dept * 137 + 500 * math.sin(week + dept)
            lines.append(f"{store},{dept},{day:%Y-%m-%d},{sales:.2f},{'TRUE' if week == 1 else 'FALSE'}")
write("walmart_weekly_sales.csv", "\n".join(lines) + "\n",
      {"rows": 120, "series": 12, "first": "2010-02-05T00:00:00Z", "columns": 2})

# Wikipedia page views (pageviews.wmcloud.org "Download CSV"): a date and an article each.
lines = ["Date,Python (programming language),Rust (programming language),JavaScript"]
for i in range(30):
    day = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=i)
    lines.append(f"{day:%Y-%m-%d},{15000 + (i * 331) % 2000},{3000 + (i * 97) % 700},{9000 + (i * 211) % 1500}")
write("wikipedia_pageviews.csv", "\n".join(lines) + "\n",
      {"rows": 90, "series": 3, "first": "2024-01-01T00:00:00Z", "columns": 1})

# Closing prices of six tickers, a column each (a spreadsheet of prices).
tickers = ["AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "META"]
lines = ["Date," + ",".join(tickers)]
for i in range(40):
    day = datetime(2024, 2, 1, tzinfo=UTC) + timedelta(days=i)
    lines.append(f"{day:%Y-%m-%d}," + ",".join(f"{price(i + k, 100 + 60 * k):.2f}" for k in range(6)))
write("close_by_ticker_wide.csv", "\n".join(lines) + "\n",
      {"rows": 240, "series": 6, "first": "2024-02-01T00:00:00Z", "columns": 1})

# A market dump in time order, whose series column has a name no alias list holds: every
# instrument at one minute, then the next minute.
lines = ["minute_utc,feed_key,bid,ask"]
start = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
for m in range(550):
    at = start + timedelta(minutes=m)
    for k in range(10):
        bid = price(m + k, 100 + 10 * k)
        lines.append(f"{at:%Y-%m-%d %H:%M:%S},FX{k:02d},{bid:.4f},{bid + 0.01:.4f}")
write("interleaved_feed.csv", "\n".join(lines) + "\n",
      {"rows": 5500, "series": 10, "first": iso(start), "columns": 2})

# Times that repeat with other values and no column to tell the rows apart: refused with
# the explanation, never read as one row per time.
lines = ["2024-01-01,1.5"]
lines = []
for d in range(20):
    for k in range(3):
        lines.append(f"2024-01-{d + 1:02d},{d * 10 + k}.5")
write("repeats_without_series.csv", "\n".join(lines) + "\n", {"error": "repeated_rows"})

with open(os.path.join(HERE, "expected.json"), "w") as f:
    json.dump(EXPECTED, f, indent=1, sort_keys=True)
    f.write("\n")
