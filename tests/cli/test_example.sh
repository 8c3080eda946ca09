#!/usr/bin/env bash
# The Shakespeare example to read (examples/shakespeare): on a small text it trains, validates,
# saves its weights and samples after the prompt; without a text it says how to run it.
# Usage: test_example.sh path/to/txl_shakespeare
set -u
bin=$1
source "$(dirname "$0")/common.sh"
python3 - "$tmp/text.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(300):
        f.write(f"ROMEO:\nWhat light through yonder window breaks {i % 7}?\n\n")
PY
out=$(cd "$tmp" && "$bin" text.txt 3 2>&1) || bad "3 steps failed: $out"
[[ "$out" == *"step     3 |"*"valid "*"bits/char"* ]] && ok || bad "no validation line: $out"
[[ "$out" == *"--- sample ---"*"ROMEO:"* ]] && ok || bad "no sample: $out"
[ -f "$tmp/shakespeare_weights/checksums.txt" ] && [ -f "$tmp/shakespeare_weights/src_embed.weight.npy" ] && ok ||
  bad "weights not saved"
expect_fail "no text given" "usage: txl_shakespeare" "$bin"
expect_fail "missing text" "no such file" "$bin" "$tmp/none.txt" 1
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
