#!/bin/bash
# txl's bytes and words: each level and softmax trains a few steps on a small text and writes
# its run; a byte-level text that is not UTF-8 trains as bytes and is refused as characters;
# bad input is a clear error with a non-zero exit.
# Usage: test_lm.sh path/to/txl
bin=$1
source "$(dirname "$0")/common.sh"

# A small text: word-level, with punctuation, repeated so that every cluster has words.
python3 - "$tmp/text.txt" <<'PY'
import random, sys
random.seed(3)
words = [f"w{i}" for i in range(4500)]
lines = []
for _ in range(2500):
    n = random.randint(3, 12)
    lines.append(" ".join(random.choice(words[:random.choice([50, 1200, 4500])]) for _ in range(n)) + random.choice([".", ",", "!"]))
open(sys.argv[1], "w").write("\n".join(lines) + "\n")
PY
small=(train --data "$tmp/text.txt" --steps 3 --valid-every 3 --batch 4 --seq-len 8 --mem-len 8 --sample-length 5)
bestloss() { awk '$1 == "valid_loss" {print $2}' "$1/best/best.txt"; }

for level in bytes chars words; do
  out=$("$bin" "${small[@]}" --tokens $level --out "$tmp/$level" 2>&1) || { bad "$level: $out"; continue; }
  want="bits/char"; [ $level = words ] && want="perplexity"; [ $level = bytes ] && want="bits/byte"
  [[ "$out" == *"$want"* ]] && ok || bad "$level: no $want in the output"
  [ -f "$tmp/$level/best/vocab.txt" ] && [ -f "$tmp/$level/metrics.csv" ] && ok || bad "$level: run directory incomplete"
done
out=$("$bin" "${small[@]}" --tokens words --min-count 1 --softmax adaptive --out "$tmp/adaptive" 2>&1) && ok || bad "adaptive: $out"
[[ "$out" == *"softmax adaptive"* ]] && grep -q "^softmax adaptive$" "$tmp/adaptive/best/config.txt" && ok ||
  bad "adaptive: the model is not the adaptive one"
[ -f "$tmp/adaptive/best/generator.cluster_weight.npy" ] && ok || bad "adaptive: no cluster scores saved"
# eval reads best/ back: the same validation loss as training saw, and any memory.
out=$("$bin" eval --checkpoint "$tmp/adaptive" --data "$tmp/text.txt" 2>&1) || bad "eval: $out"
want=$(bestloss "$tmp/adaptive")
got=$(echo "$out" | sed -n 's/^valid (segments 8, memory 8, batch 4): \([0-9.]*\) nats.*/\1/p')
python3 -c "import sys; sys.exit(abs(float('$got') - float('$want')) > 5e-5)" 2>/dev/null && ok || bad "eval: '$got' vs training's '$want'"
"$bin" eval --checkpoint "$tmp/adaptive/best" --data "$tmp/text.txt" --mem-len 24 --clamp-len 4 --same-length 2>&1 |
  grep -q "^valid (segments 8, memory 24, clamp_len 4, same_length, batch 4): " && ok || bad "eval with another memory"
expect_fail "eval at another level" "the model reads words" "$bin" eval --checkpoint "$tmp/adaptive" --data "$tmp/text.txt" --tokens bytes
expect_fail "eval of no run" "config.txt" "$bin" eval --checkpoint "$tmp" --data "$tmp/text.txt"
cp -r "$tmp/adaptive" "$tmp/edited" && sed -i 's/^config .*/config wt103-base/' "$tmp/edited/best/config.txt"
expect_fail "eval of an edited config" "checksum mismatch" "$bin" eval --checkpoint "$tmp/edited" --data "$tmp/text.txt"
# The text from standard input.
"$bin" train --data - --tokens words --steps 2 --valid-every 2 --batch 4 --seq-len 8 --mem-len 8 --sample-length 0 \
  --out "$tmp/stdin" < "$tmp/text.txt" > /dev/null 2>&1 && ok || bad "--data - (standard input)"

# Bytes that are not UTF-8: fine as bytes, a clear error as characters.
python3 -c "import sys; sys.stdout.buffer.write(bytes(range(256)) * 40)" > "$tmp/binary.bin"
"$bin" train --data "$tmp/binary.bin" --tokens bytes --steps 2 --valid-every 2 --batch 4 --seq-len 8 --mem-len 8 \
  --sample-length 0 --out "$tmp/binary" > /dev/null 2>&1 && ok || bad "a non-UTF-8 file as bytes"
expect_fail "non-UTF-8 as chars" "UTF-8" "$bin" train --data "$tmp/binary.bin" --tokens chars --steps 2 --out "$tmp/x"

expect_fail "unknown level" "not in {bytes,chars,words}" "$bin" "${small[@]}" --tokens syllables --out "$tmp/x"
expect_fail "unknown softmax" "not in {full,adaptive}" "$bin" "${small[@]}" --softmax sparse --out "$tmp/x"
expect_fail "adaptive on bytes" "must be below the vocabulary's size" "$bin" "${small[@]}" --tokens bytes --softmax adaptive --out "$tmp/x"
expect_fail "missing file" "no such file" "$bin" train --data "$tmp/none.txt" --steps 2 --out "$tmp/x"
: > "$tmp/empty.txt"
expect_fail "empty file" "is empty" "$bin" train --data "$tmp/empty.txt" --steps 2 --out "$tmp/x"
expect_fail "no budget" "give --steps N or --minutes M" "$bin" train --data "$tmp/text.txt" --out "$tmp/x"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
