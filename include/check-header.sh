#!/usr/bin/env bash
# Regenerates include/twopass.h with cbindgen (cbindgen.toml) and fails if the committed header
# differs; with --write, updates it instead. Then compiles the header as C99 and C++11 with
# every warning an error. Needs cbindgen 0.29.4:
#   cargo install cbindgen --locked --version 0.29.4
set -euo pipefail
cd "$(dirname "$0")/.."
header=include/twopass.h
fresh=$(mktemp)
trap 'rm -f "$fresh"' EXIT
cbindgen --quiet --config cbindgen.toml --crate twopass --output "$fresh"
if [ "${1:-}" = "--write" ]; then
    cp "$fresh" "$header"
elif ! diff -u "$header" "$fresh"; then
    echo "include/twopass.h is stale: run include/check-header.sh --write and commit it" >&2
    exit 1
fi
flags=(-Wall -Wextra -Werror -pedantic -fsyntax-only -I include)
printf '#include "twopass.h"\nint main(void) { return TWOPASS_ABI_VERSION != 1; }\n' |
    cc -std=c99 "${flags[@]}" -x c -
printf '#include "twopass.h"\nint main() { return TWOPASS_ABI_VERSION != 1; }\n' |
    c++ -std=c++11 "${flags[@]}" -x c++ -
echo "include/twopass.h: up to date; compiles as C99 and C++11"
