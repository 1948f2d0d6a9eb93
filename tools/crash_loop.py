#!/usr/bin/env python3
"""Kills a running server with SIGKILL at random moments of uploads, chunked uploads,
imports and import jobs, restarts it, and then checks what a crash may never leave:

  * no temporary file older than the last start (every run folder under the data folder's
    `tmp/` but the live one is swept at start-up);
  * no half dataset: every dataset listed reads back (its current version's file is whole);
  * no job left running: jobs of killed runs are taken up again and end (or wait, queued,
    for the retry their backoff set), imports made on a killed request included (their
    lease runs out and they are failed, hours given back); reported, and a failure with
    --require-jobs-end.

Uses only the standard library. The server is the `variosync` binary (`--bin`, default:
`$CARGO_TARGET_DIR/debug/variosync`), on SQLite and a local folder in a temporary data
folder, with imports above 64 KiB run as jobs so that kills land in jobs too.

Usage: python3 tools/crash_loop.py [--bin PATH] [--kills 20] [--seed N]
"""

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

EMAIL = "crash@example.com"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary: Path, data: Path, port: int):
        self.binary, self.data, self.port = binary, data, port
        self.base = f"http://127.0.0.1:{port}"
        self.env = dict(
            os.environ,
            VARIOSYNC_DATA_DIR=str(data),
            VARIOSYNC_LISTEN=f"127.0.0.1:{port}",
            VARIOSYNC_JOBS_INLINE_IMPORT_BYTES="65536",
            VARIOSYNC_JOBS_LEASE_SECS="5",
            VARIOSYNC_JOBS_SWEEP_SECS="2",
            VARIOSYNC_LOG_LEVEL="error",
            VARIOSYNC_RATE_LIMIT_API_PER_MINUTE="100000",
        )
        for name in ("VARIOSYNC_DATABASE_URL", "VARIOSYNC_REDIS_URL", "VARIOSYNC_CONFIG"):
            self.env.pop(name, None)
        self.process = None
        self.started_at = None

    def command(self, *args: str) -> str:
        out = subprocess.run(
            [str(self.binary), *args], env=self.env, capture_output=True, text=True, check=True
        )
        return out.stdout

    def start(self):
        self.started_at = time.time()
        self.process = subprocess.Popen(
            [str(self.binary), "serve"], env=self.env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("the server did not start within a minute")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)

    def request(self, method, path, body=None, headers=None, timeout=30):
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if body is not None and not isinstance(body, bytes):
            request.add_header("content-type", "application/json")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read()
            return response.status, dict(response.headers), text


def api_key(server: Server) -> str:
    """Makes the account (sign-in link from the command line) and a write key."""
    out = server.command("admin", "create-user", "--email", EMAIL)
    token = out.split("token=")[1].split()[0]
    _, headers, text = server.request(
        "POST", "/api/v1/auth/magic-link/confirm", {"token": token}
    )
    cookie = {k.lower(): v for k, v in headers.items()}["set-cookie"].split(";")[0]
    csrf = json.loads(text)["csrf_token"]
    _, _, text = server.request(
        "POST", "/api/v1/api-keys", {"name": "crash loop", "scope": "write"},
        {"cookie": cookie, "x-csrf-token": csrf},
    )
    return json.loads(text)["secret"]


def csv_file(rows: int, seed: int) -> bytes:
    rng = random.Random(seed)
    lines = ["symbol,timestamp,open,high,low,close,volume"]
    for i in range(rows):
        price = 100 + rng.random()
        lines.append(
            f"S{i % 7},{1700000000 + i * 60},{price:.4f},{price + 0.1:.4f},{price - 0.1:.4f},"
            f"{price:.4f},{rng.randint(1, 9999)}"
        )
    return ("\n".join(lines) + "\n").encode()


def direct_upload(server, key, body, name):
    server.request(
        "POST", f"/api/v1/datasets?name={name}", body,
        {"authorization": f"Bearer {key}", "content-type": "text/csv"}, timeout=120,
    )


def chunked_upload(server, key, body, name):
    auth = {"authorization": f"Bearer {key}"}
    _, _, text = server.request(
        "POST", "/api/v1/uploads", {"file_name": f"{name}.csv", "size": len(body)}, auth
    )
    upload = json.loads(text)["id"]
    chunk = 256 * 1024
    for start in range(0, len(body), chunk):
        server.request(
            "PATCH", f"/api/v1/uploads/{upload}", body[start:start + chunk],
            dict(auth, **{"upload-offset": str(start), "content-type": "application/offset+octet-stream"}),
        )
    server.request("POST", f"/api/v1/uploads/{upload}/complete?name={name}", b"", auth, timeout=120)


def quietly(outcome, action, *args):
    try:
        action(*args)
        outcome.append("answered")
    except (OSError, urllib.error.URLError, ValueError, KeyError):
        # The server was killed under it: that is the point.
        outcome.append("cut off")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path(__file__).resolve().parent.parent / "target"))
    parser.add_argument("--bin", type=Path, default=target / "debug" / "variosync")
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument(
        "--require-jobs-end", action="store_true",
        help="fail when a job of a killed run is still running after three minutes (known to "
        "happen after many kills: see the note printed); without it, such jobs are reported",
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"seed {args.seed}, {args.kills} kills, {args.bin}")
    data = Path(tempfile.mkdtemp(prefix="variosync-crash-"))
    server = Server(args.bin, data, free_port())
    server.command("migrate")
    server.start()
    key = api_key(server)
    server.stop()
    small, large = csv_file(500, 1), csv_file(150_000, 2)
    for kill in range(args.kills):
        server.start()
        body = rng.choice([small, large, large])
        name = f"crash-{kill}"
        action = rng.choice([direct_upload, chunked_upload])
        outcome = []
        worker = threading.Thread(
            target=quietly, args=(outcome, action, server, key, body, name)
        )
        worker.start()
        time.sleep(rng.uniform(0.02, 1.0))
        server.kill()
        worker.join()
        print(f"kill {kill + 1}: {action.__name__} of {len(body)} bytes, {outcome[0]}")

    server.start()
    auth = {"authorization": f"Bearer {key}"}
    failures = []
    # Jobs of killed runs are taken up again once their lease runs out, and end.
    deadline = time.time() + 180
    while True:
        _, _, text = server.request("GET", "/api/v1/jobs?limit=200", None, auth)
        # A retry waiting out its backoff (queued, due later) is fine; one due now, or a
        # job still running, must end.
        now = datetime.now(timezone.utc)
        open_jobs = [
            j for j in json.loads(text)
            if j["status"] == "running"
            or (j["status"] == "queued" and datetime.fromisoformat(j["run_after"]) <= now)
        ]
        if not open_jobs:
            break
        if time.time() > deadline:
            stuck = [(j["id"], j["status"], j["attempts"], j["run_after"], j["message"]) for j in open_jobs]
            said = f"{len(open_jobs)} jobs never ended: {stuck}"
            if args.require_jobs_end:
                failures.append(said)
            else:
                print(f"note: {said}")
            break
        time.sleep(1)
    # No temporary file from before this start.
    tmp = data / "tmp"
    live = [p for p in tmp.iterdir()] if tmp.exists() else []
    runs = [p for p in live if p.name.startswith("run-")]
    if len(runs) != 1:
        failures.append(f"tmp/ holds {len(runs)} run folders: {[p.name for p in runs]}")
    for path in tmp.rglob("*") if tmp.exists() else []:
        if path.is_file() and path.name != ".lock" and "cache" not in path.parts:
            failures.append(f"left in tmp/: {path.relative_to(data)}")
        elif path.is_file() and path.stat().st_mtime < server.started_at - 1 and path.name != ".lock" and "cache" not in path.parts:
            failures.append(f"older than the last start: {path.relative_to(data)}")
    # No half dataset: every dataset reads back whole.
    _, _, text = server.request("GET", "/api/v1/datasets?limit=200", None, auth)
    datasets = json.loads(text)
    for dataset in datasets:
        try:
            _, _, detail = server.request("GET", f"/api/v1/datasets/{dataset['id']}", None, auth)
            version = json.loads(detail)["version"]
            series = version["series"][0]
            _, _, rows = server.request(
                "GET", f"/api/v1/datasets/{dataset['id']}/rows?limit=10000&series={series}",
                None, auth,
            )
            if not json.loads(rows)["rows"]:
                failures.append(f"dataset {dataset['name']} reads no rows")
        except urllib.error.HTTPError as error:
            failures.append(f"dataset {dataset['name']} does not read back: {error.code} {error.read()[:200]!r}")
    server.stop()
    print(f"{len(datasets)} datasets made it through {args.kills} kills; tmp/ holds only the live run")
    if failures:
        print("FAILED:")
        for failure in failures:
            print(f"  {failure}")
        sys.exit(1)
    subprocess.run(["rm", "-rf", str(data)], check=False)
    print("ok")


if __name__ == "__main__":
    main()
