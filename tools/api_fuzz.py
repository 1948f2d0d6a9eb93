#!/usr/bin/env python3
"""Runs schemathesis, with all its checks, over the whole API of a running server: an
account signed in by link, a write key, a dataset and a finished forecast to aim at, then
examples, coverage, fuzzing and stateful phases bounded by `--max-examples` and
`--max-time`. Any failure (a 5xx, an answer its operation does not document, a schema-valid
request refused, an invalid one accepted, a broken answer schema) fails the run.

Two operations are left out because they end the run's own credential: deleting the account
(`delete_me`) and revoking an API key (`revoke_api_key`, which the stateful phase would aim
at the run's key). Both are covered by the API tests.

The server is the `variosync` binary (`--bin`, default `$CARGO_TARGET_DIR/debug/variosync`)
on SQLite and a local folder in a temporary data folder; schemathesis is `--schemathesis`
(default: `schemathesis` on the PATH). `schemathesis.toml` at the repository root holds the
run's settings.

Usage: python3 tools/api_fuzz.py [--bin PATH] [--schemathesis PATH] [--max-examples 20]
       [--max-time 300] [--seed N]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crash_loop import Server, api_key, csv_file, direct_upload, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = ["delete_me", "revoke_api_key"]


def main() -> int:
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", type=Path, default=target / "debug" / "variosync")
    parser.add_argument("--schemathesis", default="schemathesis")
    parser.add_argument("--max-examples", type=int, default=20)
    parser.add_argument("--max-time", type=int, default=300)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="variosync-api-fuzz-") as data:
        server = Server(args.bin, Path(data), free_port())
        server.env.update(
            VARIOSYNC_RATE_LIMIT_AUTH_PER_MINUTE="1000000",
            VARIOSYNC_RATE_LIMIT_API_PER_MINUTE="1000000",
            VARIOSYNC_JOBS_INLINE_IMPORT_BYTES="16777216",
        )
        server.start()
        try:
            key = api_key(server)
            auth = {"authorization": f"Bearer {key}"}
            direct_upload(server, key, csv_file(500, args.seed), "prices")
            _, _, text = server.request("GET", "/api/v1/datasets", headers=auth)
            dataset = json.loads(text)[0]["id"]
            server.request(
                "POST", "/api/v1/forecasts",
                {"dataset_id": dataset, "series": "S0", "column": "close", "horizon": 5},
                auth,
            )
            command = [
                args.schemathesis, "run", f"{server.base}/api/v1/openapi.json",
                "--checks", "all",
                "--header", f"Authorization: Bearer {key}",
                "--max-examples", str(args.max_examples),
                "--max-time", str(args.max_time),
                "--seed", str(args.seed),
                "--workers", "2",
                "--suppress-health-check", "all",
                "--continue-on-failure",
            ]
            for operation in LEFT_OUT:
                command += ["--exclude-operation-id", operation]
            print("+", " ".join(c if "Bearer" not in c else "Authorization: Bearer ..." for c in command), flush=True)
            return subprocess.run(command, cwd=ROOT, check=False).returncode
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
