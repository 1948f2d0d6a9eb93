#!/usr/bin/env python3
"""Every export format read back by the reference library of its format, compared with the
source row by row.

Each sample file is converted with `variosync convert` to canonical Parquet (the source)
and to every export format; each export is then read by a library that is not ours:
pyarrow (Parquet, Arrow IPC file and stream, Feather), the csv module and pandas (CSV,
TSV), json (JSON, JSON Lines), fastavro (Avro), openpyxl (Excel), line-protocol-parser
(InfluxDB line protocol) and prometheus-client (OpenMetrics). Rows must match the source:
the same series, the same UTC times (to the microsecond; to the millisecond in Excel, whose
dates hold no more), floats to the bit, integers, booleans, text and nulls as they were.

Run with the Python of a virtual environment holding those libraries (see .ci/run):

    VENV/bin/python tools/export_readers.py --bin target/debug/variosync [--data testdata]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import math
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import fastavro
import line_protocol_parser
import openpyxl
import pandas
import pyarrow.feather
import pyarrow.ipc
import pyarrow.parquet
from prometheus_client.openmetrics.parser import text_string_to_metric_families

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def micros(at: dt.datetime) -> int:
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    delta = at - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def rfc3339_micros(text: str) -> int:
    return micros(dt.datetime.fromisoformat(text.replace("Z", "+00:00")))


def same_float(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return struct.pack("<d", a) == struct.pack("<d", b)


class Source:
    """The canonical rows of one sample: (series, micros, [values]) and the value columns."""

    def __init__(self, parquet: Path):
        table = pyarrow.parquet.read_table(parquet)
        self.names = table.column_names
        self.columns = self.names[2:]
        self.kinds = [str(table.schema.field(name).type) for name in self.columns]
        series = table.column(0).cast("string").to_pylist()
        times = table.column(1).cast("int64").to_pylist()
        values = [table.column(name).to_pylist() for name in self.columns]
        self.rows = [
            (series[i], times[i], [column[i] for column in values]) for i in range(len(series))
        ]


class Mismatch(Exception):
    pass


def compare_value(kind: str, want, got, where: str, exact_text: bool = True):
    if want is None:
        if got is not None:
            raise Mismatch(f"{where}: expected a null, read {got!r}")
        return
    if got is None:
        raise Mismatch(f"{where}: expected {want!r}, read a null")
    if kind == "double":
        if not same_float(float(want), float(got)):
            raise Mismatch(f"{where}: expected {want!r}, read {got!r}")
    elif kind == "int64":
        if int(got) != want or (isinstance(got, float) and not got.is_integer()):
            raise Mismatch(f"{where}: expected {want!r}, read {got!r}")
    elif kind == "bool":
        if bool(got) != want:
            raise Mismatch(f"{where}: expected {want!r}, read {got!r}")
    elif str(got) != want:
        raise Mismatch(f"{where}: expected {want!r}, read {got!r}")


def compare_rows(source: Source, rows, label: str, tolerance: int = 0):
    """`rows`: (series, micros, {column: value}) in the source's order; times may be off by
    `tolerance` microseconds (a reader's rounding of Excel's day fractions)."""
    rows = list(rows)
    if len(rows) != len(source.rows):
        raise Mismatch(f"{label}: {len(source.rows)} rows expected, {len(rows)} read")
    for number, ((series, at, values), (got_series, got_at, got)) in enumerate(
        zip(source.rows, rows)
    ):
        where = f"{label}, row {number + 1} ({series!r} at {at})"
        if got_series != series:
            raise Mismatch(f"{where}: the series read is {got_series!r}")
        if abs(got_at - at) > tolerance:
            raise Mismatch(f"{where}: the time read is {got_at}")
        for name, kind, want in zip(source.columns, source.kinds, values):
            compare_value(kind, want, got.get(name), f"{where}, column {name!r}")


def text_value(kind: str, text: str):
    if text == "":
        return None
    if kind == "double":
        return float(text)
    if kind == "int64":
        return int(text)
    if kind == "bool":
        return text == "true"
    return text


# The readers: each returns (series, micros, {column: value}) rows.


def read_arrow_table(table, source: Source):
    names = table.column_names
    series = table.column(0).to_pylist()
    times = table.column(1).cast("int64").to_pylist()
    values = {name: table.column(name).to_pylist() for name in names[2:]}
    for i in range(table.num_rows):
        yield series[i], times[i], {name: values[name][i] for name in values}


def read_parquet(path: Path, source: Source):
    return read_arrow_table(pyarrow.parquet.read_table(path), source)


def read_arrow_file(path: Path, source: Source):
    with pyarrow.ipc.open_file(path) as reader:
        return read_arrow_table(reader.read_all(), source)


def read_arrow_stream(path: Path, source: Source):
    with pyarrow.ipc.open_stream(path) as reader:
        return read_arrow_table(reader.read_all(), source)


def read_feather(path: Path, source: Source):
    return read_arrow_table(pyarrow.feather.read_table(path), source)


def read_csv_module(path: Path, source: Source, delimiter: str = ","):
    with open(path, newline="", encoding="utf-8") as file:
        reader = csv.reader(file, delimiter=delimiter)
        header = next(reader)
        for row in reader:
            values = {
                name: text_value(kind, row[2 + i])
                for i, (name, kind) in enumerate(zip(source.columns, source.kinds))
            }
            if header[2:] != source.columns:
                raise Mismatch(f"the header is {header}")
            yield row[0], rfc3339_micros(row[1]), values


def read_tsv(path: Path, source: Source):
    return read_csv_module(path, source, "\t")


def read_csv_pandas(path: Path, source: Source):
    dtypes = {
        name: {"double": "Float64", "int64": "Int64", "bool": "boolean"}.get(kind, "string")
        for name, kind in zip(source.columns, source.kinds)
    }
    frame = pandas.read_csv(
        path,
        dtype={source.names[0]: "string", **dtypes},
        keep_default_na=False,
        na_values={name: [""] for name in source.columns},
    )
    times = pandas.to_datetime(frame[source.names[1]], utc=True, format="ISO8601")
    stamps = (times - pandas.Timestamp(0, tz="UTC")) // pandas.Timedelta(microseconds=1)
    columns = {name: frame[name].tolist() for name in source.columns}
    for i, series in enumerate(frame[source.names[0]].tolist()):
        values = {}
        for name in source.columns:
            value = columns[name][i]
            values[name] = None if value is pandas.NA else value
        yield series, int(stamps.iloc[i]), values


def read_json(path: Path, source: Source):
    with open(path, encoding="utf-8") as file:
        records = json.load(file)
    for record in records:
        yield record[source.names[0]], rfc3339_micros(record[source.names[1]]), record


def read_jsonl(path: Path, source: Source):
    with open(path, encoding="utf-8") as file:
        for line in file:
            record = json.loads(line)
            yield record[source.names[0]], rfc3339_micros(record[source.names[1]]), record


def read_avro(path: Path, source: Source):
    with open(path, "rb") as file:
        reader = fastavro.reader(file)
        fields = reader.writer_schema["fields"]
        # A column Avro could not name keeps its own name in the field's attributes.
        names = {f["name"]: f.get("variosync.name", f["name"]) for f in fields}
        for record in reader:
            record = {names[key]: value for key, value in record.items()}
            yield record[source.names[0]], micros(record[source.names[1]]), record


def read_xlsx(path: Path, source: Source):
    workbook = openpyxl.load_workbook(path, read_only=True)
    for sheet in workbook.worksheets:
        rows = sheet.iter_rows(values_only=True)
        header = list(next(rows))
        for row in rows:
            record = dict(zip(header, row))
            at = record[source.names[1]]
            yield record[source.names[0]], micros(at), record


def read_line_protocol(path: Path, source: Source):
    with open(path, encoding="utf-8") as file:
        for line in file:
            point = line_protocol_parser.parse_line(line.rstrip("\n"))
            fields = point["fields"]
            yield point["measurement"], point["time"] // 1000, fields


def read_openmetrics(path: Path, source: Source):
    """Samples per family, regrouped by (series, time): one row per source row with a value."""
    text = path.read_text(encoding="utf-8")
    rows: dict[tuple[str, int], dict] = {}
    order: list[tuple[str, int]] = []
    for family in text_string_to_metric_families(text):
        column = family.documentation.removeprefix("The column ").removesuffix(".")
        for sample in family.samples:
            at = sample.timestamp
            stamp = round(float(at) * 1_000_000) if not hasattr(at, "sec") else (
                at.sec * 1_000_000 + at.nsec // 1000
            )
            key = (sample.labels["series"], stamp)
            if key not in rows:
                rows[key] = {}
                order.append(key)
            rows[key][column] = sample.value
    for key in order:
        yield key[0], key[1], rows[key]


def openmetrics_source(source: Source) -> Source:
    """The source as OpenMetrics holds it: booleans as 1 and 0, rows without a value gone."""
    view = Source.__new__(Source)
    view.names = source.names
    view.columns = [c for c, k in zip(source.columns, source.kinds) if k != "string"]
    view.kinds = ["double" for _ in view.columns]
    kept = [i for i, k in enumerate(source.kinds) if k != "string"]
    view.rows = []
    for series, at, values in source.rows:
        numbers = [values[i] for i in kept]
        numbers = [None if v is None else float(v) for v in numbers]
        if any(v is not None for v in numbers):
            view.rows.append((series, at, numbers))
    # Families come one after the other; rows regrouped keep each series' order.
    view.rows.sort(key=lambda row: (row[0].encode(), row[1]))
    return view


def sorted_rows(rows):
    return sorted(rows, key=lambda row: (row[0].encode(), row[1]))


FORMATS = [
    # (extension, reader, options)
    ("parquet", read_parquet, []),
    ("arrow", read_arrow_file, []),
    ("arrows", read_arrow_stream, []),
    ("feather", read_feather, []),
    ("csv", read_csv_module, []),
    ("pandas.csv", read_csv_pandas, []),
    ("tsv", read_tsv, []),
    ("json", read_json, []),
    ("jsonl", read_jsonl, []),
    ("avro", read_avro, []),
    ("xlsx", read_xlsx, []),
    ("lp", read_line_protocol, []),
    ("om", read_openmetrics, []),
]


def convert(binary: str, source: Path, output: Path, options: list[str]):
    result = subprocess.run(
        [binary, "convert", str(source), str(output), *options],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise Mismatch(f"variosync convert {source.name} {output.name}: {result.stderr.strip()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, help="the variosync binary")
    parser.add_argument("--data", default="testdata", help="the sample files")
    args = parser.parse_args()
    samples = sorted(
        p for p in Path(args.data).iterdir() if p.is_file() and p.suffix not in (".md",)
    )
    failures = []
    checked = 0
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for sample in samples:
            canonical = scratch / f"{sample.stem}.source.parquet"
            try:
                convert(args.bin, sample, canonical, [])
            except Mismatch as error:
                failures.append(str(error))
                continue
            source = Source(canonical)
            for extension, reader, options in FORMATS:
                label = f"{sample.name} as {extension}"
                if extension == "om" and "string" in source.kinds:
                    # OpenMetrics holds numbers only; the export refuses a text column.
                    continue
                output = scratch / f"{sample.stem}.{extension}"
                try:
                    convert(args.bin, canonical, output, options)
                    rows = reader(output, source)
                    if extension == "om":
                        compare_rows(openmetrics_source(source), sorted_rows(rows), label)
                    elif extension == "lp":
                        # Line protocol has no nulls: a missing field is the null.
                        compare_rows(source, rows, label)
                    elif extension == "xlsx":
                        compare_rows(source, rows, label, tolerance=1)
                    else:
                        compare_rows(source, rows, label)
                    checked += 1
                except Mismatch as error:
                    failures.append(str(error))
                except Exception as error:  # a reader refusing the file is a failure too
                    failures.append(f"{label}: {type(error).__name__}: {error}")
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    print(f"export readers: {checked} exports read back exactly, {len(failures)} failed")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
