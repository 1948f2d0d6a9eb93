#!/usr/bin/env bash
# `cargo deny check advisories` against the RustSec advisory database snapshot committed
# under supply-chain/advisory-db, offline (CI cannot reach the database's git repository).
#
#   tools/advisories.sh              check (fails when the snapshot is older than MAX_AGE_DAYS)
#   tools/advisories.sh --refresh DIR  replace the snapshot with the checkout of
#                                    https://github.com/rustsec/advisory-db at DIR
#
# cargo-deny opens its database as a git checkout named after the database's URL under
# `db-path` (deny.toml: target/advisory-dbs); the snapshot becomes that checkout, committed
# with the snapshot's own date so its age is what cargo-deny and this script see.
set -euo pipefail
cd "$(dirname "$0")/.."

SNAPSHOT=supply-chain/advisory-db
MAX_AGE_DAYS=${MAX_AGE_DAYS:-180}
# `advisory-db-` and the XxHash64 (seed 0xca80de71) of https://github.com/rustsec/advisory-db,
# as cargo-deny 0.20 names the checkout of that URL.
CHECKOUT=target/advisory-dbs/advisory-db-3157b0e258782691

if [ "${1:-}" = "--refresh" ]; then
  source_dir=${2:?usage: tools/advisories.sh --refresh PATH-TO-ADVISORY-DB-CHECKOUT}
  commit=$(git -C "$source_dir" rev-parse HEAD)
  date=$(git -C "$source_dir" show -s --format=%cI HEAD)
  rm -rf "$SNAPSHOT/crates" "$SNAPSHOT/rust"
  git -C "$source_dir" archive HEAD crates rust | tar -x -C "$SNAPSHOT"
  printf '# The RustSec advisory database (https://github.com/rustsec/advisory-db), as of:\ncommit=%s\ndate=%s\n' \
    "$commit" "$date" > "$SNAPSHOT/SNAPSHOT"
  echo "advisory database snapshot: $commit ($date)"
  exit 0
fi

date=$(sed -n 's/^date=//p' "$SNAPSHOT/SNAPSHOT")
commit=$(sed -n 's/^commit=//p' "$SNAPSHOT/SNAPSHOT")
age_days=$(( ($(date +%s) - $(date -d "$date" +%s)) / 86400 ))
echo "advisory database snapshot $commit of $date ($age_days days old)"
if [ "$age_days" -gt "$MAX_AGE_DAYS" ]; then
  echo "the advisory database snapshot is older than $MAX_AGE_DAYS days:" >&2
  echo "  refresh it with tools/advisories.sh --refresh PATH-TO-ADVISORY-DB-CHECKOUT" >&2
  exit 1
fi

rm -rf "$CHECKOUT"
mkdir -p "$CHECKOUT"
cp -r "$SNAPSHOT/crates" "$SNAPSHOT/rust" "$CHECKOUT/"
git -C "$CHECKOUT" init --quiet
git -C "$CHECKOUT" add -A
GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" git -C "$CHECKOUT" \
  -c user.name=advisory-db -c user.email=advisory-db@localhost commit --quiet -m "snapshot $commit"
# The checkout's HEAD file is written now; cargo-deny takes the later of it and the commit's
# date, so set it back to the snapshot's date too.
touch -d "$date" "$CHECKOUT/.git/HEAD"
# The crates themselves may be fetched; the advisory database may not.
cargo fetch --locked --quiet
cargo deny --offline --log-level error check advisories
