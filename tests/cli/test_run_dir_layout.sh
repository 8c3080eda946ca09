#!/usr/bin/env bash
# A run directory written by an earlier release keeps working: txl writes the
# layout of tests/cli/run_dir_v1.manifest (file names, labml's parameter names, .npy dtypes and
# shapes, every key and value of config.txt and trainer.txt, the vocabulary, metrics.csv's
# columns), evaluates it, and resumes it bit for bit.
# Usage: test_run_dir_layout.sh /path/to/txl [/path/to/an/older/txl]
# With an older build as the second argument (or in TXL_OLD_PROGRAM) the run directory is written by that build, and
# this build's evaluation and resumed run must equal the older build's own, byte for byte.
set -u
new=$1
old=${2:-${TXL_OLD_PROGRAM:-}}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# The same text as tests/cli/test_cli.sh, and the command that made the manifest.
python3 - "$tmp/text.txt" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(200):
        f.write(f"ROMEO:\nWhat light through yonder window breaks {i % 7}?\n\n")
PY
train=(train --data "$tmp/text.txt" --preset practical --valid-every 2 --save-every 2 --log-every 1 --sample-length 0)
# An older build may be txl_shakespeare of 0.1, whose option was --config.
old_train=("${train[@]}")
[ -n "$old" ] && "$old" train --help 2>&1 | grep -q -- "--config" && old_train=("${train[@]/--preset/--config}")
if [ -n "$old" ]; then writer=("$old" "${old_train[@]}"); else writer=("$new" "${train[@]}"); fi
"${writer[@]}" --steps 2 --total-steps 4 --out "$tmp/run" > "$tmp/run.log" 2>&1 || bad "2 steps failed: $(tail -3 "$tmp/run.log")"

# 1. The layout.
python3 "$here/run_dir_manifest.py" "$tmp/run" > "$tmp/manifest" || bad "manifest failed"
diff -u "$here/run_dir_v1.manifest" "$tmp/manifest" > "$tmp/manifest.diff" || bad "the run directory's layout changed:
$(head -40 "$tmp/manifest.diff")"

# 2. Evaluation reads it (best/) and finds the validation loss the run recorded.
"$new" eval --checkpoint "$tmp/run" --data "$tmp/text.txt" > "$tmp/eval.out" 2>&1 || bad "eval failed: $(tail -3 "$tmp/eval.out")"
recorded=$(awk '$1 == "valid_loss" {printf "%.4f", $2}' "$tmp/run/best/best.txt")
grep -q "^valid_loss $recorded " "$tmp/eval.out" || bad "eval gives '$(grep valid_loss "$tmp/eval.out")', best.txt records $recorded"
if [ -n "$old" ]; then
  "$old" eval --checkpoint "$tmp/run" --data "$tmp/text.txt" > "$tmp/eval.old" 2>&1
  diff <(grep "^valid_loss" "$tmp/eval.old") <(grep "^valid_loss" "$tmp/eval.out") > /dev/null ||
    bad "eval differs from the older build's: $(grep "^valid_loss" "$tmp/eval.old") vs $(grep "^valid_loss" "$tmp/eval.out")"
fi

# 3. Resumed to step 4, it equals a straight run of 4 steps (or the older build's own resume).
cp -r "$tmp/run" "$tmp/resumed"
"$new" "${train[@]}" --steps 4 --out "$tmp/resumed" --resume > "$tmp/resume.log" 2>&1 || bad "resume failed: $(tail -3 "$tmp/resume.log")"
if [ -n "$old" ]; then
  cp -r "$tmp/run" "$tmp/reference"
  "$old" "${old_train[@]}" --steps 4 --out "$tmp/reference" --resume > /dev/null 2>&1 || bad "the older build's resume failed"
else
  "$new" "${train[@]}" --steps 4 --out "$tmp/reference" > /dev/null 2>&1 || bad "4 straight steps failed"
fi
for f in $(cd "$tmp/reference" && find checkpoint best -type f | sort); do
  cmp -s "$tmp/reference/$f" "$tmp/resumed/$f" || bad "resumed run differs from the reference in $f"
done
[ $fail = 0 ] && echo "run directory layout: kept, evaluated, resumed bit for bit" || exit 1
