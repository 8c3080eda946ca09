# Shared by the command-line tests (sourced): a scratch directory removed on exit, the tally,
# and the checks they all use.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# expect_fail NAME EXPECTED_SUBSTRING CMD...: must exit non-zero and print EXPECTED on stderr.
expect_fail() {
  local name=$1 want=$2
  shift 2
  local out rc
  out=$("$@" 2>&1 >/dev/null)
  rc=$?
  if [ $rc -eq 0 ]; then bad "$name: exit 0, expected failure"; return; fi
  if [[ "$out" != *"$want"* ]]; then bad "$name: message '$out' lacks '$want'"; return; fi
  if [[ "$out" == *"Segmentation"* || $rc -ge 128 && $rc -ne 130 ]]; then bad "$name: crashed ($rc)"; return; fi
  ok
}

# same_checkpoint RUN_A RUN_B: the two run directories' checkpoints are the same bits, every file
# of checkpoint/ (the first that differs is named).
same_checkpoint() {
  local a=$1/checkpoint b=$2/checkpoint f
  [ -d "$a" ] && [ -d "$b" ] || return 1
  while IFS= read -r f; do cmp -s "$a/$f" "$b/$f" || { echo "differs: $f"; return 1; }; done \
    < <(cd "$a" && find . -type f | sort)
  return 0
}
