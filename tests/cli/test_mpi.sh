#!/usr/bin/env bash
# txl under mpirun (data-parallel training, txl/training/distributed.hpp):
#  - 1 and 2 processes train the same model (float: the figures within a reordered sum);
#  - the resume matrix: checkpoints saved by 1 and 2 processes, resumed by 1, 2 and 4, each
#    bit for bit equal to a straight run at that world size from the same checkpoint;
#  - a process killed with -9 ends the job within seconds, non-zero, the checkpoint resumable;
#  - SIGTERM to mpirun (as Ctrl-C): every process stops after the same step and rank 0 saves;
#  - processes started on different data are refused.
# Usage: test_mpi.sh /path/to/txl /path/to/mpirun   (TXL_MPI_MATRIX=" " skips the matrix)
set -u
bin=$1
mpirun=$2
shift 2
source "$(dirname "$0")/common.sh"
run() {  # run NP ARGS...: the example on NP processes
  local np=$1
  shift
  "$mpirun" --oversubscribe --bind-to none -np "$np" "$bin" "$@"
}
export TXL_NUM_THREADS=1

python3 - "$tmp/text.txt" "$tmp/other.txt" <<'PY'
import sys
for path, k in ((sys.argv[1], 7), (sys.argv[2], 5)):
    with open(path, "w") as f:
        for i in range(1500):
            f.write(f"ROMEO:\nWhat light through yonder window breaks {i % k}, {i % 13}?\n\n")
PY
train=(train --data "$tmp/text.txt" --preset practical --size base --log-every 5 --sample-length 0)
short=(--total-steps 20 --valid-every 5 --save-every 5)

# --- 1 and 2 processes: the same run (float, up to the order of the sums)
run 1 "${train[@]}" "${short[@]}" --steps 20 --out "$tmp/np1" > "$tmp/np1.log" 2> /dev/null || bad "np 1 run failed"
run 2 "${train[@]}" "${short[@]}" --steps 20 --out "$tmp/np2" > "$tmp/np2.log" 2> "$tmp/np2.err" || bad "np 2 run failed"
v1=$(awk '/^valid_loss/ {print $2}' "$tmp/np1.log")
v2=$(awk '/^valid_loss/ {print $2}' "$tmp/np2.log")
echo "np 1 vs np 2, 20 steps, float: best validation loss $v1 vs $v2"
python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if abs(a - b) <= 2e-3 * a else 1)" \
  "${v1:-0}" "${v2:-1}" && ok || bad "np 1 and np 2 validation losses differ: $v1 vs $v2"
grep -q "1 threads per process, 2 processes (data parallel, 8 streams each)" "$tmp/np2.err" && ok ||
  bad "the run names its world size and threads"

# --- the resume matrix
for saved in ${TXL_MPI_MATRIX:-1 2}; do
  run $saved "${train[@]}" "${short[@]}" --steps 10 --out "$tmp/base$saved" > /dev/null 2>&1 || bad "np $saved: first 10 steps failed"
  for np in 1 2 4; do
    cp -r "$tmp/base$saved" "$tmp/straight$saved$np"
    cp -r "$tmp/base$saved" "$tmp/split$saved$np"
    run $np "${train[@]}" "${short[@]}" --steps 20 --resume --out "$tmp/straight$saved$np" > /dev/null 2>&1 || bad "resume $saved -> $np failed"
    run $np "${train[@]}" "${short[@]}" --steps 15 --resume --out "$tmp/split$saved$np" > /dev/null 2>&1 &&
      run $np "${train[@]}" "${short[@]}" --steps 20 --resume --out "$tmp/split$saved$np" > /dev/null 2>&1 || bad "split resume $saved -> $np failed"
    if same_checkpoint "$tmp/straight$saved$np" "$tmp/split$saved$np" &&
      grep -q "^step 20$" "$tmp/split$saved$np/checkpoint/trainer.txt"; then
      echo "resume matrix: saved at np $saved, resumed at np $np: 10 -> 15 -> 20 == 10 -> 20, bit for bit"
      ok
    else
      bad "saved at np $saved, resumed at np $np: not bit-exact against the straight run"
    fi
  done
done
# What 2 processes saved and 1 resumed is the run 1 process trains (its memory was gathered).
[ -z "${TXL_MPI_MATRIX+x}" ] && { grep -q "^batch 16$" "$tmp/base2/checkpoint/trainer.txt" && ok || bad "the checkpoint records the whole batch"; }

# --- a process killed: the job ends, non-zero, within seconds; the checkpoint resumes
long=(--total-steps 100000 --save-every 3 --valid-every 100000)
"$mpirun" --oversubscribe --bind-to none -np 2 "$bin" "${train[@]}" "${long[@]}" --steps 100000 --out "$tmp/kill" \
  > /dev/null 2>&1 &
mp=$!
for _ in $(seq 300); do [ -f "$tmp/kill/checkpoint/trainer.txt" ] && break; sleep 0.1; done
sleep 1
victim=$(pgrep -P $mp | tail -1)
if [ -n "$victim" ]; then
  t0=$(date +%s%N)
  kill -9 "$victim"
  wait $mp
  rc=$?
  ms=$((($(date +%s%N) - t0) / 1000000))
  for _ in $(seq 200); do pgrep -f -- "--out $tmp/kill" > /dev/null || break; sleep 0.1; done
  gone=$((($(date +%s%N) - t0) / 1000000))
  echo "killed one of 2 processes (kill -9): mpirun exited after $ms ms with exit code $rc, the last process was gone after $gone ms"
  [ $rc -ne 0 ] && [ $gone -lt 20000 ] && ok || bad "after kill -9: exit $rc after $ms ms, processes left after $gone ms"
  at=$(awk '/^step/ {print $2}' "$tmp/kill/checkpoint/trainer.txt")
  run 2 "${train[@]}" "${long[@]}" --resume --out "$tmp/kill" --steps $((at + 2)) > /dev/null 2>&1 &&
    grep -q "^step $((at + 2))$" "$tmp/kill/checkpoint/trainer.txt" && ok ||
    bad "the checkpoint left by the killed job (step $at) does not resume"
else
  bad "no process to kill"
  kill $mp
fi

# --- SIGTERM to mpirun (what Ctrl-C and a scheduler send): all stop after the same step, saved
long=(--total-steps 100000 --save-every 100000 --valid-every 100000)
"$mpirun" --oversubscribe --bind-to none -np 2 "$bin" "${train[@]}" "${long[@]}" --steps 100000 --out "$tmp/term" \
  > "$tmp/term.out" 2> "$tmp/term.err" &
mp=$!
for _ in $(seq 300); do grep -q "step 5 |" "$tmp/term.out" 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -TERM $mp
wait $mp
rc=$?
for _ in $(seq 200); do pgrep -f -- "--out $tmp/term" > /dev/null || break; sleep 0.1; done
run 2 "${train[@]}" "${long[@]}" --out "$tmp/term" --resume --steps 1 > /dev/null 2> "$tmp/term2.err"
saved=$(awk '/^step/ {print $2}' "$tmp/term/checkpoint/trainer.txt" 2>/dev/null)
echo "SIGTERM to mpirun: exit $rc, checkpoint at step ${saved:-none}"
[ $rc -ne 0 ] && [ -n "$saved" ] && [ "$saved" -gt 0 ] && grep -q "terminated: checkpoint saved at step $saved" "$tmp/term.err" &&
  grep -q "already at step $saved" "$tmp/term2.err" && ok ||
  bad "SIGTERM: exit $rc, saved step '${saved}'"

# --- processes started on different data are refused, by all, with a message
out=$("$mpirun" --oversubscribe --bind-to none -np 1 "$bin" "${train[@]}" --steps 2 --out "$tmp/mix" : \
  -np 1 "$bin" "${train[@]/$tmp\/text.txt/$tmp/other.txt}" --steps 2 --out "$tmp/mix" 2>&1)
rc=$?
[ $rc -ne 0 ] && [[ "$out" == *"the processes disagree on the text (--data): rank(s) 1 differ from rank 0"* ]] && ok ||
  bad "mismatched data: exit $rc, output: $(echo "$out" | grep -i error | head -3)"
# ... and a batch the world size does not divide
out=$(run 4 "${train[@]}" --batch 6 --steps 1 --out "$tmp/odd" 2>&1)
[[ "$out" == *"cannot be split evenly across 4 processes"* ]] && ok || bad "batch 6 on 4 processes: $out"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
