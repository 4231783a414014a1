#!/usr/bin/env bash
# Regenerates include/twopass.h with cbindgen (cbindgen.toml) and fails if the committed header
# differs; with --write, updates it instead. (cargo test compiles it as C99 and C++11.)
# Needs cbindgen 0.29.4:
#   cargo install cbindgen --locked --version 0.29.4
set -euo pipefail
cd "$(dirname "$0")/.."
header=include/twopass.h
fresh=$(mktemp)
trap 'rm -f "$fresh"' EXIT
cbindgen --quiet --config cbindgen.toml --crate twopass --output "$fresh"
if [ "${1:-}" = "--write" ]; then
    cp "$fresh" "$header"
    echo "include/twopass.h written"
elif diff -u "$header" "$fresh"; then
    echo "include/twopass.h is up to date"
else
    echo "include/twopass.h is stale: run include/check-header.sh --write and commit it" >&2
    exit 1
fi
