#!/usr/bin/env bash
# Command-line tests of txl: bad input gives a clear message and a non-zero exit,
# nothing is overwritten unasked, and train -> stop -> resume equals an uninterrupted run.
# Usage: test_cli.sh /path/to/txl
set -u
bin=$1
source "$(dirname "$0")/common.sh"

# A small text the test writes itself: 8000 characters of a play-like pattern.
python3 - "$tmp/text.txt" <<'PY' 2>/dev/null || awk 'BEGIN{for(i=0;i<200;i++) printf "ROMEO:\nWhat light through yonder window breaks %d?\n\n", i%7}' > "$tmp/text.txt"
import sys
with open(sys.argv[1], "w") as f:
    for i in range(200):
        f.write(f"ROMEO:\nWhat light through yonder window breaks {i % 7}?\n\n")
PY
train=(train --data "$tmp/text.txt" --preset practical --valid-every 2 --save-every 2 --log-every 1 --sample-length 20)

# --- bad text
expect_fail "missing text" "no such file" "$bin" "${train[@]/$tmp\/text.txt/$tmp/none.txt}" --steps 1 --out "$tmp/r0"
: > "$tmp/empty.txt"
expect_fail "empty text" "the file is empty" "$bin" train --data "$tmp/empty.txt" --steps 1 --out "$tmp/r0"
expect_fail "unreadable text (a directory)" "is a directory" "$bin" train --data "$tmp" --steps 1 --out "$tmp/r0"
head -c 500 "$tmp/text.txt" > "$tmp/short.txt"
expect_fail "text shorter than one batch" "too short for one batch" "$bin" train --data "$tmp/short.txt" --batch 32 --steps 1 --out "$tmp/r0"
printf 'ab\xff\xfecd' > "$tmp/binary.txt"
expect_fail "invalid UTF-8" "invalid UTF-8" "$bin" train --data "$tmp/binary.txt" --steps 1 --out "$tmp/r0"

# --- options
expect_fail "unknown option" "--bogus" "$bin" train --bogus --out "$tmp/r0"
expect_fail "unknown config" "labml" "$bin" train --preset huge --steps 1 --out "$tmp/r0"
expect_fail "no subcommand" "subcommand" "$bin"
expect_fail "neither steps nor minutes" "give --steps N or --minutes M" "$bin" "${train[@]}" --out "$tmp/r0"
if "$bin" --help | grep -q "train" && "$bin" train --help | grep -q -- "--seed UINT:INT in \[0, 18446744073709551615\]=1"; then ok; else bad "--help lists options with defaults"; fi

# --- a real run: 4 steps straight, and 2 + resume 2
"$bin" "${train[@]}" --steps 4 --out "$tmp/straight" > "$tmp/straight.log" 2>&1 || bad "training run failed: $(tail -3 "$tmp/straight.log")"
grep -q "^valid_loss " "$tmp/straight.log" && ok || bad "train prints valid_loss"
[ -f "$tmp/straight/loss.svg" ] && [ -f "$tmp/straight/metrics.csv" ] && ok || bad "loss.svg and metrics.csv written"
# (--total-steps 4: the schedule's end, which a straight --steps 4 run takes from --steps)
"$bin" "${train[@]}" --steps 2 --total-steps 4 --out "$tmp/resumed" > /dev/null 2>&1 || bad "first half failed"
expect_fail "existing checkpoint is not overwritten" "already exists" "$bin" "${train[@]}" --steps 4 --out "$tmp/resumed"
"$bin" "${train[@]}" --steps 4 --out "$tmp/resumed" --resume > /dev/null 2>&1 || bad "resume failed"
same_checkpoint "$tmp/straight" "$tmp/resumed" && ok || bad "resumed run is not bit-identical to the straight run"

# --- a GEMM kernel that does not exist, or that this CPU lacks, is an error with the reason
expect_fail "unknown TXL_GEMM" "TXL_GEMM=avx9: expected blas, avx2, avx512 or auto" env TXL_GEMM=avx9 "$bin" "${train[@]}" --steps 1 --out "$tmp/gemm"

# --- the thread count does not change a single bit (txl's pool runs alone while the machine is
# busy, so a run's thread count changes under it): the same 4 steps on 1 and on 3 threads equal
# the straight run above.
for n in 1 3; do
  TXL_NUM_THREADS=$n "$bin" "${train[@]}" --steps 4 --out "$tmp/threads$n" > /dev/null 2>&1 || bad "run on $n threads failed"
  same_checkpoint "$tmp/straight" "$tmp/threads$n" && ok || bad "a run on $n threads is not bit-identical to the default run"
done

# --- eval and sample
out=$("$bin" eval --checkpoint "$tmp/straight" --data "$tmp/text.txt" 2>/dev/null | tail -1)
[[ "$out" =~ ^valid_loss\ [0-9.]+\ valid_acc\ [0-9.]+$ ]] && ok || bad "eval's last line: '$out'"
out=$("$bin" eval --checkpoint "$tmp/straight" --data "$tmp/text.txt" --mem-len 0 2>/dev/null | tail -1)
[[ "$out" =~ ^valid_loss ]] && ok || bad "eval --mem-len 0: '$out'"
out=$("$bin" sample --checkpoint "$tmp/straight" --prompt "ROMEO:" --length 30 --seed 3 2>/dev/null)
[[ "$out" == ROMEO:* ]] && [ ${#out} -ge 36 ] && ok || bad "sample prints prompt and text: '$out'"
expect_fail "prompt outside the vocabulary" "is not in the vocabulary" "$bin" sample --checkpoint "$tmp/straight" --prompt "Zebra" --length 5

# --- broken checkpoints
cp -r "$tmp/straight" "$tmp/broken1"
rm "$tmp/broken1/checkpoint/generator.weight.npy"
expect_fail "checkpoint missing a file" "generator.weight.npy: listed in checksums.txt but missing" "$bin" eval --latest --checkpoint "$tmp/broken1" --data "$tmp/text.txt"
cp -r "$tmp/straight" "$tmp/broken2"
f="$tmp/broken2/checkpoint/transformer.layers.3.feed_forward.layer1.weight.npy"
truncate -s $(( $(stat -c %s "$f") - 100 )) "$f"
expect_fail "truncated checkpoint" "checksum mismatch" "$bin" sample --latest --checkpoint "$tmp/broken2" --prompt "R" --length 5
rm "$tmp/broken2/checkpoint/checksums.txt"  # as a checkpoint from before checksums: the reader's own check
expect_fail "truncated checkpoint, no checksums" "truncated or padded" "$bin" sample --latest --checkpoint "$tmp/broken2" --prompt "R" --length 5
cp -r "$tmp/straight" "$tmp/broken3"
printf '\x01' | dd of="$tmp/broken3/checkpoint/optimizer/src_embed.weight.m.npy" bs=1 seek=200 conv=notrunc 2>/dev/null
expect_fail "a changed byte in the optimizer state" "checksum mismatch" "$bin" train --data "$tmp/text.txt" --preset practical --steps 6 --out "$tmp/broken3" --resume

# --- files a loader must not trust: a device as the text, a vocabulary entry beyond Unicode, a
# config with trailing text or a negative length (checksums removed, as if hand-edited)
expect_fail "a device as the text" "not a regular file" "$bin" train --data /dev/zero --steps 1 --out "$tmp/dev"
# A pipe or standard input is copied to a temporary file (the reader takes two passes): the same run as from the file.
"$bin" train --data "$tmp/text.txt" --preset practical --steps 2 --out "$tmp/from_file" > /dev/null 2>&1
"$bin" train --data - --preset practical --steps 2 --out "$tmp/from_stdin" < "$tmp/text.txt" > /dev/null 2>&1 &&
  same_checkpoint "$tmp/from_file" "$tmp/from_stdin" && ok || bad "--data - (standard input) differs from the file"
"$bin" train --data <(cat "$tmp/text.txt") --preset practical --steps 2 --out "$tmp/from_pipe" > /dev/null 2>&1 &&
  same_checkpoint "$tmp/from_file" "$tmp/from_pipe" && ok || bad "--data <(pipe) differs from the file"
[ -z "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'txl-text-*' -newer "$tmp/text.txt" 2>/dev/null)" ] && ok ||
  bad "a temporary copy of the text was left behind"
for case in "vocab|\$ s/.*/1114112/|is not a Unicode character" "config|s/^seq_len 64\$/seq_len 64abc/|seq_len '64abc'" \
            "config|s/^seq_len 64\$/seq_len -64/|seq_len '-64'" "config|s/^dropout .*/dropout nan/|dropout 'nan'"; do
  IFS='|' read -r file sedexpr want <<< "$case"
  rm -rf "$tmp/edit" && cp -r "$tmp/straight" "$tmp/edit" && rm "$tmp/edit/checkpoint/checksums.txt"
  [ "$file" = vocab ] && f="$tmp/edit/checkpoint/vocab.txt" || f="$tmp/edit/checkpoint/config.txt"
  sed -i "$sedexpr" "$f"
  expect_fail "hand-edited $file: $want" "$want" "$bin" eval --latest --checkpoint "$tmp/edit" --data "$tmp/text.txt"
done

# --- best/: the weights with the lowest validation loss; eval and sample read it and say so,
# --latest reads checkpoint/; a new run (--force) starts a new record; a damaged best/ is refused
[ -f "$tmp/straight/best/best.txt" ] && grep -q "^step [24]$" "$tmp/straight/best/best.txt" && ok || bad "best/ written at a validation"
out=$("$bin" eval --checkpoint "$tmp/straight" --data "$tmp/text.txt" 2>&1 >/dev/null)
[[ "$out" == *"/best (the best so far: step "* && "$out" == *"bits/char"* ]] && ok || bad "eval reads best/ and says so: '$out'"
out=$("$bin" eval --latest --checkpoint "$tmp/straight" --data "$tmp/text.txt" 2>&1 >/dev/null)
[[ "$out" == *"checkpoint (the latest)"* ]] && ok || bad "eval --latest reads checkpoint/: '$out'"
grep -q "^best: step [24] of 4, validation loss .* bits/char" "$tmp/straight.log" && grep -q "^best, by memory length: mem_len 0: " "$tmp/straight.log" \
  && ok || bad "train reports the best checkpoint in nats and bits per character, by memory length"
[ "$(tail -n 1 "$tmp/straight/metrics.csv" | cut -d, -f1)" = 4 ] && ok || bad "metrics.csv ends at step 4"
cp -r "$tmp/straight" "$tmp/bestbroken"
printf '\x01' | dd of="$tmp/bestbroken/best/generator.bias.npy" bs=1 seek=130 conv=notrunc 2>/dev/null
expect_fail "a changed byte in best/" "checksum mismatch" "$bin" sample --checkpoint "$tmp/bestbroken" --prompt "R" --length 5
"$bin" sample --latest --checkpoint "$tmp/bestbroken" --prompt "R" --length 5 > /dev/null 2>&1 && ok || bad "sample --latest beside a damaged best/"
"$bin" "${train[@]}" --steps 2 --out "$tmp/bestbroken" --force > /dev/null 2>&1 || bad "--force over a run with best/"
grep -q "^step 2$" "$tmp/bestbroken/best/best.txt" && ok || bad "--force: best/ is the new run's (step 2), not the old one's"

# --- a disk that fills up during a save: a clear error, a non-zero exit, the previous checkpoint
# intact and resumable (files limited to 100 KB: the larger weight files fail to write)
"$bin" "${train[@]}" --steps 2 --out "$tmp/full" > /dev/null 2>&1 || bad "disk-full setup run failed"
out=$( (trap '' XFSZ; ulimit -f 100; "$bin" "${train[@]}" --steps 4 --out "$tmp/full" --resume) 2>&1 >/dev/null)
rc=$?
[ $rc -ne 0 ] && [[ "$out" == *"write failed"* ]] && ok || bad "disk full: exit $rc, message '$out'"
grep -q "^step 2$" "$tmp/full/checkpoint/trainer.txt" && ok || bad "disk full: the previous checkpoint was not kept"
ls -a "$tmp/full" | grep -q "tmp" && bad "disk full: a partial save was left behind" || ok
"$bin" "${train[@]}" --steps 4 --out "$tmp/full" --resume > /dev/null 2>&1 && ok || bad "disk full: the previous checkpoint does not resume"

# --- a save killed between its two renames (systems without an atomic exchange): the next
# command finds the previous copy, with or without --resume
cp -r "$tmp/straight" "$tmp/swap"
mv "$tmp/swap/checkpoint" "$tmp/swap/.checkpoint.old"
expect_fail "after an interrupted swap, a run without --resume" "already exists" "$bin" "${train[@]}" --steps 6 --out "$tmp/swap"
"$bin" eval --checkpoint "$tmp/swap" --data "$tmp/text.txt" > /dev/null 2>&1 && ok || bad "after an interrupted swap, eval fails"
expect_fail "resume with another config" "trained with --preset practical" "$bin" train --data "$tmp/text.txt" --preset labml --steps 6 --out "$tmp/straight" --resume
sed 's/ROMEO/JULIET/' "$tmp/text.txt" > "$tmp/other.txt"
expect_fail "resume on another vocabulary" "vocabulary of" "$bin" train --data "$tmp/other.txt" --steps 6 --out "$tmp/straight" --resume
expect_fail "eval on another vocabulary" "is not in the vocabulary" "$bin" eval --checkpoint "$tmp/straight" --data "$tmp/other.txt"
expect_fail "checkpoint directory missing" "not found" "$bin" eval --checkpoint "$tmp/nothing" --data "$tmp/text.txt"
expect_fail "resume without a checkpoint" "no checkpoint" "$bin" "${train[@]}" --steps 2 --out "$tmp/fresh" --resume

# --- the final sample's prompt is checked before training, not after it
expect_fail "prompt outside the vocabulary, before training" "is not in the vocabulary" "$bin" "${train[@]}" --steps 2 --out "$tmp/p0" --prompt "Zebra"
expect_fail "empty prompt, before training" "--prompt: empty" "$bin" "${train[@]}" --steps 2 --out "$tmp/p0" --prompt ""
[ -d "$tmp/p0" ] && bad "a rejected prompt still created its run directory" || ok

# --- SIGTERM (kill, timeout, a container stopping) saves like Ctrl-C and exits 143
"$bin" train --data "$tmp/text.txt" --preset practical --steps 1000000 --valid-every 1000000 --save-every 1000000 \
  --log-every 1 --sample-length 0 --out "$tmp/term" > "$tmp/term.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q "^step 2 " "$tmp/term.log" 2>/dev/null && break; sleep 0.1; done
kill -TERM $pid
wait $pid
rc=$?
[ $rc -eq 143 ] && ok || bad "SIGTERM: exit $rc, expected 143"
grep -q "terminated: checkpoint saved at step" "$tmp/term.log" && [ -f "$tmp/term/checkpoint/trainer.txt" ] && ok \
  || bad "SIGTERM: no checkpoint saved ($(tail -2 "$tmp/term.log"))"

# --- metrics.csv after a resume lists every step once (rows logged after the last save, as a
# killed run leaves them, are replayed by the resumed run)
"$bin" "${train[@]}" --steps 2 --out "$tmp/csv" > /dev/null 2>&1 || bad "csv run failed"
printf '3,0,0,9,0,,,0,0\n4,0,0,9,0,,,0,0\n' >> "$tmp/csv/metrics.csv"
"$bin" "${train[@]}" --steps 4 --out "$tmp/csv" --resume > /dev/null 2>&1 || bad "csv resume failed"
steps=$(tail -n +2 "$tmp/csv/metrics.csv" | cut -d, -f1 | tr '\n' ' ')
[ "$steps" = "1 2 3 4 " ] && ok || bad "metrics.csv steps after a resume: '$steps', expected '1 2 3 4 '"
grep -q ",9,0," "$tmp/csv/metrics.csv" && bad "metrics.csv kept the replayed rows" || ok

# --- every numeric option against values out of its range: negative, zero where it must be
# positive, too large, not finite, not a number, not a whole number. Each must fail before any
# work, with the option's name and what it accepts in the message.
ck=(--checkpoint "$tmp/straight")
while read -r sub opt values; do
  for v in $values; do
    case $sub in
      train) cmd=("$bin" train --data "$tmp/text.txt" --out "$tmp/range" "$opt" "$v")
             [ "$opt" != --steps ] && [ "$opt" != --minutes ] && cmd+=(--steps 1) ;;
      eval) cmd=("$bin" eval "${ck[@]}" --data "$tmp/text.txt" "$opt" "$v") ;;
      sample) cmd=("$bin" sample "${ck[@]}" --prompt R "$opt" "$v")
              [ "$opt" != --length ] && cmd+=(--length 5) ;;
    esac
    expect_fail "$sub $opt $v" "$opt: expected a" "${cmd[@]}"
  done
done <<'TABLE'
train --steps -5 0 1e12 2.5 abc 99999999999999999999999
train --minutes -1 0 nan inf 1e300 abc
train --dropout -0.1 1 nan inf abc
train --dropatt -0.1 1.5 nan
train --seed -1 1.5 abc 99999999999999999999999
train --valid-every -1 0 abc 1e3
train --save-every -1 0 abc
train --log-every -1 0 abc
train --sample-length -1 1e12 abc
train --lr -1 0 nan inf 1e9 abc
train --min-lr -1 nan abc
train --warmup -1 2.5 abc
train --total-steps -1 0 abc
train --weight-decay -0.1 11 nan abc
train --batch -1 0 abc 1e6
train --seq-len -1 0 abc 5000
train --mem-len -1 abc 5000
train --accumulate -1 0 abc
eval --mem-len -1 1e9 abc
eval --clamp-len -1 abc 2.5
sample --length -1 1e12 99999999999 abc
sample --temperature -1 nan inf 1e300 abc
sample --top-k -3 abc 1e9
sample --seed -1 abc
sample --mem-len -1 abc 1e9
TABLE
[ -d "$tmp/range" ] && bad "a rejected option still created its run directory" || ok

# --- schedule, AdamW and accumulation options
expect_fail "unknown schedule" "--schedule" "$bin" "${train[@]}" --schedule linear --steps 1 --out "$tmp/r0"
expect_fail "accumulate must divide batch" "accumulate 3 must be >= 1 and divide batch 32" "$bin" "${train[@]}" --batch 32 --accumulate 3 --steps 1 --out "$tmp/r0"
expect_fail "min-lr above lr" "min_lr 0.01 must be in [0, lr]" "$bin" "${train[@]}" --schedule cosine --lr 1e-3 --min-lr 1e-2 --steps 1 --out "$tmp/r0"
expect_fail "segment + memory beyond P" "must be <= P" "$bin" "${train[@]}" --seq-len 4000 --mem-len 4000 --steps 1 --out "$tmp/r0"
"$bin" "${train[@]}" --steps 4 --schedule cosine --lr 2e-3 --min-lr 1e-4 --warmup 1 --weight-decay 0.1 --accumulate 2 \
  --dropout 0.1 --batch 8 --out "$tmp/cos" > "$tmp/cos.log" 2>&1 || bad "cosine run failed: $(tail -3 "$tmp/cos.log")"
grep -q "^total 4$" "$tmp/cos/checkpoint/config.txt" && grep -q "^weight_decay 0.1" "$tmp/cos/checkpoint/config.txt" &&
  grep -q "^accumulate 2$" "$tmp/cos/checkpoint/config.txt" && grep -q "^batch 8$" "$tmp/cos/checkpoint/config.txt" && ok ||
  bad "the run's options are in config.txt: $(cat "$tmp/cos/checkpoint/config.txt")"
lr4=$(awk -F, '$1 == 4 {print $3}' "$tmp/cos/metrics.csv")
[ "$lr4" = "0.0001" ] && ok || bad "a cosine schedule over --steps 4 ends at --min-lr at step 4 (got lr '$lr4')"
expect_fail "resume with another learning rate" "trained with --lr 0.002" "$bin" "${train[@]}" --steps 6 --lr 1e-3 --out "$tmp/cos" --resume
"$bin" "${train[@]}" --steps 6 --lr 2e-3 --out "$tmp/cos" --resume > "$tmp/cos2.log" 2>&1 && ok || bad "resume with the same --lr: $(tail -3 "$tmp/cos2.log")"
# A cosine schedule over --minutes measures its end after warm-up and says so.
"$bin" "${train[@]}" --minutes 0.1 --schedule cosine --warmup 2 --batch 4 --seq-len 8 --mem-len 8 --out "$tmp/budget" > "$tmp/budget.log" 2>&1 ||
  bad "cosine over --minutes failed: $(tail -3 "$tmp/budget.log")"
grep -q "schedule: the cosine decay ends at step" "$tmp/budget.log" && ok || bad "no 'schedule: ...' line: $(head -5 "$tmp/budget.log")"
total=$(awk '$1 == "total" {print $2}' "$tmp/budget/checkpoint/config.txt")
steps=$(awk -F, 'END {print $1}' "$tmp/budget/metrics.csv")
[ -n "$total" ] && [ "$total" -gt 2 ] && [ "$steps" -le "$total" ] && ok || bad "budget: total '$total', steps '$steps'"
# The long preset: the practical one at batch 32 with dropout 0.1.
"$bin" train --data "$tmp/text.txt" --preset long --steps 2 --batch 4 --sample-length 0 --out "$tmp/long" > "$tmp/long.log" 2>&1 ||
  bad "--preset long failed: $(tail -3 "$tmp/long.log")"
grep -q "^config long$" "$tmp/long/checkpoint/config.txt" && grep -q "^dropout 0.1" "$tmp/long/checkpoint/config.txt" &&
  grep -q "^schedule cosine$" "$tmp/long/checkpoint/config.txt" && ok || bad "long config.txt: $(cat "$tmp/long/checkpoint/config.txt")"
expect_fail "resume a long run as practical" "trained with --preset long" "$bin" "${train[@]}" --steps 4 --out "$tmp/long" --resume

# --size: another compile-time shape, written into config.txt, read back by eval and sample.
"$bin" train --data "$tmp/text.txt" --size narrow --steps 2 --batch 4 --sample-length 0 --out "$tmp/narrow" > "$tmp/narrow.log" 2>&1 ||
  bad "--size narrow failed: $(tail -3 "$tmp/narrow.log")"
grep -q "^size narrow$" "$tmp/narrow/checkpoint/config.txt" &&
  grep -q "^model d_model=96 heads=3 d_ff=192 layers=6 P=4096$" "$tmp/narrow/checkpoint/config.txt" && ok ||
  bad "narrow config.txt: $(cat "$tmp/narrow/checkpoint/config.txt")"
"$bin" eval --checkpoint "$tmp/narrow" --data "$tmp/text.txt" 2>&1 | grep -q "size narrow" && ok || bad "eval of a narrow run names its size"
"$bin" sample --checkpoint "$tmp/narrow" --prompt "RO" --length 5 > /dev/null 2>&1 && ok || bad "sample of a narrow run"
expect_fail "resume a narrow run as base" "trained with --size narrow" "$bin" train --data "$tmp/text.txt" --size base --steps 4 --batch 4 --out "$tmp/narrow" --resume
"$bin" train --data "$tmp/text.txt" --steps 3 --batch 4 --sample-length 0 --out "$tmp/narrow" --resume > "$tmp/narrow2.log" 2>&1 &&
  grep -q "size narrow" "$tmp/narrow2.log" && ok || bad "resume without --size follows the checkpoint: $(tail -3 "$tmp/narrow2.log")"
# The practical preset: d_ff 512 (size ff512), batch 16; long: the same size, batch 32.
grep -q "^size ff512$" "$tmp/straight/checkpoint/config.txt" && grep -q "^batch 16$" "$tmp/straight/checkpoint/config.txt" && ok ||
  bad "practical config.txt: $(cat "$tmp/straight/checkpoint/config.txt")"
grep -q "^size ff512$" "$tmp/long/checkpoint/config.txt" && ok || bad "long is size ff512: $(cat "$tmp/long/checkpoint/config.txt")"
for kind in "--model no-memory" "--encoding sinusoidal"; do  # the practical preset's size has every model
  # shellcheck disable=SC2086
  "$bin" train --data "$tmp/text.txt" $kind --steps 1 --batch 4 --sample-length 0 --out "$tmp/ff512-kind" --force > "$tmp/kind.log" 2>&1 &&
    grep -q "size ff512" "$tmp/kind.log" && ok || bad "practical with $kind: $(tail -3 "$tmp/kind.log")"
done
expect_fail "a size built for xl only" "is built with --model xl --encoding learned --softmax full only" "$bin" "${train[@]}" --steps 1 --size wide --model no-memory --out "$tmp/r0"
expect_fail "unknown size" "--size" "$bin" "${train[@]}" --steps 1 --size huge --out "$tmp/r0"
cp -r "$tmp/narrow" "$tmp/narrow_bad"
for d in "$tmp"/narrow_bad/*/; do  # a config.txt whose size and shape disagree (no checksums: an old checkpoint)
  [ -f "$d/config.txt" ] && sed -i 's/^size narrow$/size wide/' "$d/config.txt" && rm -f "$d/checksums.txt"
done
expect_fail "size and shape disagree" "this program builds size wide as" "$bin" eval --checkpoint "$tmp/narrow_bad" --data "$tmp/text.txt"

# --- bf16 products (--precision bf16): resume bit-exact, the thread count changes no bit, and
# checkpoints go between precisions. Where the CPU has no native bf16 kernel, the portable one
# (TXL_GEMM_BF16=portable) runs the same path.
expect_fail "unknown precision" "--precision" "$bin" "${train[@]}" --steps 1 --precision fp16 --out "$tmp/r0"
expect_fail "unknown bf16 kernel" "TXL_GEMM_BF16=avx9: expected amx, avx512_bf16, portable or auto" env TXL_GEMM_BF16=avx9 "$bin" "${train[@]}" --steps 1 --precision bf16 --out "$tmp/bf16_r0"
[ -e "$tmp/bf16_r0" ] && bad "a refused bf16 run left $tmp/bf16_r0 behind" || ok
if ! "$bin" "${train[@]}" --steps 1 --precision bf16 --out "$tmp/bf16_probe" > "$tmp/bf16_probe.log" 2>&1; then
  grep -q "need AMX or AVX512_BF16" "$tmp/bf16_probe.log" && ok || bad "bf16 refused without the reason: $(tail -2 "$tmp/bf16_probe.log")"
  export TXL_GEMM_BF16=portable
fi
bf16=("${train[@]}" --precision bf16)
"$bin" "${bf16[@]}" --steps 4 --out "$tmp/bf16_straight" > "$tmp/bf16.log" 2>&1 || bad "bf16 run failed: $(tail -3 "$tmp/bf16.log")"
grep -q "products in bf16" "$tmp/bf16.log" && ok || bad "bf16 run does not say so: $(grep config "$tmp/bf16.log")"
cmp -s "$tmp/straight/checkpoint/generator.weight.npy" "$tmp/bf16_straight/checkpoint/generator.weight.npy" &&
  bad "bf16 and fp32 runs wrote the same weights (bf16 not in effect?)" || ok
"$bin" "${bf16[@]}" --steps 2 --total-steps 4 --out "$tmp/bf16_resumed" > /dev/null 2>&1 || bad "bf16 first half failed"
"$bin" "${bf16[@]}" --steps 4 --out "$tmp/bf16_resumed" --resume > /dev/null 2>&1 || bad "bf16 resume failed"
for run in bf16_resumed bf16_threads1 bf16_threads3; do
  case $run in bf16_threads*) TXL_NUM_THREADS=${run#bf16_threads} "$bin" "${bf16[@]}" --steps 4 --out "$tmp/$run" > /dev/null 2>&1 || bad "$run failed";; esac
  same_checkpoint "$tmp/bf16_straight" "$tmp/$run" && ok || bad "bf16: $run is not bit-identical to the straight bf16 run"
done
# A checkpoint of either precision resumes in the other (they hold fp32 weights alike).
"$bin" "${train[@]}" --steps 2 --total-steps 4 --out "$tmp/to_fp32" --precision bf16 > /dev/null 2>&1 &&
  "$bin" "${train[@]}" --steps 4 --out "$tmp/to_fp32" --resume --precision fp32 > /dev/null 2>&1 && ok || bad "bf16 checkpoint resumed in fp32"
"$bin" "${train[@]}" --steps 2 --total-steps 4 --out "$tmp/to_bf16" > /dev/null 2>&1 &&
  "$bin" "${bf16[@]}" --steps 4 --out "$tmp/to_bf16" --resume > /dev/null 2>&1 && ok || bad "fp32 checkpoint resumed in bf16"
"$bin" eval --checkpoint "$tmp/bf16_straight" --data "$tmp/text.txt" > /dev/null 2>&1 && ok || bad "eval of a bf16 run's checkpoint"
unset TXL_GEMM_BF16

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
