#!/bin/bash
# txl --corpus against a file server on loopback (tests/cli/data_server.py) serving small
# files in each corpus's exact layout: each is fetched, checked, unpacked and read as the paper
# reads it (split sizes, vocabulary); a wrong checksum, a truncated transfer, a server that never
# answers and a damaged archive are clear errors that leave nothing half-written behind.
# Usage: test_corpora.sh path/to/txl
bin=$1
source "$(dirname "$0")/common.sh"
here=$(cd "$(dirname "$0")" && pwd)

# The mirror: small files of the real layouts, and SHA256SUMS.
mkdir -p "$tmp/mirror"
python3 - "$tmp/mirror" <<'PY'
import hashlib, os, random, sys, zipfile
d = sys.argv[1]
random.seed(5)
def zipped(name, members):
    with zipfile.ZipFile(os.path.join(d, name), 'w', zipfile.ZIP_DEFLATED) as z:
        for path, data in members.items():
            z.writestr(path, data)
# enwik8: bytes, some not UTF-8; 6000 bytes -> 5400 / 300 / 300.
enwik8 = bytes(random.choice(b'<page>abc def\n\xc3\xa9\xff\x80') for _ in range(6000))
zipped('enwik8.zip', {'enwik8': enwik8})
# text8: lowercase letters and spaces.
zipped('text8.zip', {'text8': ''.join(random.choice('abcdefghijklmnopqrstuvwxyz ') for _ in range(4000))})
def wiki(n):
    words = ['the', 'of', '<unk>', '=', '@-@', 'Valkyria'] + [f'w{i}' for i in range(300)]
    return ''.join(' ' + ' '.join(random.choice(words[:random.choice([6, 306])]) for _ in range(random.randint(0, 15))) + ' \n'
                   for _ in range(n))
for name, top in (('wikitext-103-v1.zip', 'wikitext-103'), ('wikitext-2-v1.zip', 'wikitext-2')):
    # A word only the test file has: in wikitext-2's vocabulary (all files counted), <unk> in wikitext-103's.
    zipped(name, {f'{top}/wiki.train.tokens': wiki(400), f'{top}/wiki.valid.tokens': wiki(40),
                  f'{top}/wiki.test.tokens': wiki(40) + ' onlyintest \n'})
open(os.path.join(d, 'tiny_shakespeare.txt'), 'w').write('First Citizen:\nBefore we proceed any further, hear me speak.\n' * 60)
open(os.path.join(d, 'damaged.zip'), 'wb').write(b'PK\x03\x04 not really a zip')
with open(os.path.join(d, 'SHA256SUMS'), 'w') as f:
    for name in sorted(os.listdir(d)):
        if name != 'SHA256SUMS':
            f.write(hashlib.sha256(open(os.path.join(d, name), 'rb').read()).hexdigest() + '  ' + name + '\n')
PY
python3 "$here/data_server.py" "$tmp/mirror" "$tmp/port" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [ -f "$tmp/port" ] && break; sleep 0.1; done
port=$(cat "$tmp/port")
run=(train --steps 1 --valid-every 1 --batch 2 --seq-len 8 --mem-len 8 --sample-length 0 --download-timeout 20)

# Each corpus, fetched into an empty data directory and read in its layout.
expect_run() {  # NAME WANT_SUBSTRING: train on the corpus; its summary line must contain WANT
  local name=$1 want=$2 out
  out=$(TXL_DATA_URL="http://127.0.0.1:$port/ok" "$bin" "${run[@]}" --corpus "$name" --data-dir "$tmp/data" \
        --out "$tmp/run_$name" 2>&1) || { bad "$name: $out"; return; }
  [[ "$out" == *"$want"* ]] && ok || bad "$name: '$want' not in: $(echo "$out" | grep "^$name:")"
}
count_distinct() {  # FILE IN_ZIP: distinct bytes of a member of a zip (or of FILE itself)
  python3 -c "import sys, zipfile; d = zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]) if sys.argv[2] else open(sys.argv[1], 'rb').read(); print(len(set(d)))" "$1" "$2"
}
expect_run enwik8 "6000 bytes, 6000 bytes, vocabulary $(count_distinct "$tmp/mirror/enwik8.zip" enwik8); training 5400, validation 300, test 300"
expect_run text8 "4000 bytes, 4000 chars, vocabulary 27; training 3600, validation 200, test 200"
wt2_vocab=$(python3 -c "
import zipfile; z = zipfile.ZipFile('$tmp/mirror/wikitext-2-v1.zip')
print(len({w for f in ('train', 'valid', 'test') for w in z.read(f'wikitext-2/wiki.{f}.tokens').decode().split()} | {'<eos>'}))")
expect_run wikitext-2 "vocabulary $wt2_vocab;"
wt103_vocab=$(python3 -c "
import zipfile; z = zipfile.ZipFile('$tmp/mirror/wikitext-103-v1.zip')
print(len(set(z.read('wikitext-103/wiki.train.tokens').decode().split()) | {'<eos>'}))")
expect_run wikitext-103 "vocabulary $wt103_vocab;"
expect_run shakespeare "vocabulary $(count_distinct "$tmp/mirror/tiny_shakespeare.txt" ""); training"
for f in enwik8 text8 wikitext-2/wiki.valid.tokens wikitext-103/wiki.test.tokens tiny_shakespeare.txt; do
  [ -f "$tmp/data/$f" ] && ok || bad "$f not in the data directory"
done
[ -z "$(find "$tmp/data" -name '*.part' -o -name '.unpack-*')" ] && ok || bad "scratch files left in the data directory"
# Present files are used as they are: no server needed.
out=$(TXL_DATA_URL="http://127.0.0.1:1/none" "$bin" "${run[@]}" --corpus enwik8 --data-dir "$tmp/data" --out "$tmp/again" 2>&1) &&
  [[ "$out" != *downloading* ]] && ok || bad "a present corpus was fetched again: $out"

# Failures: a clear error, and nothing of the corpus left behind.
fails() {  # NAME WANT DIR CMD...: fails with WANT; DIR then holds no file at all
  local name=$1 want=$2 dir=$3
  shift 3
  expect_fail "$name" "$want" "$@"
  [ -z "$(find "$dir" -type f 2>/dev/null)" ] && ok || bad "$name: left $(find "$dir" -type f)"
}
sed -i 's/^[0-9a-f]\{8\}\(.*enwik8.zip\)$/00000000\1/' "$tmp/mirror/SHA256SUMS"
fails "wrong checksum" "has sha256" "$tmp/d1" env TXL_DATA_URL="http://127.0.0.1:$port/ok" \
  "$bin" "${run[@]}" --corpus enwik8 --data-dir "$tmp/d1" --out "$tmp/x"
fails "truncated transfer" "the transfer ended early" "$tmp/d2" env TXL_DATA_URL="http://127.0.0.1:$port/truncated" \
  "$bin" "${run[@]}" --corpus text8 --data-dir "$tmp/d2" --out "$tmp/x"
start=$(date +%s)
fails "a server that never answers" "no answer within 2 s" "$tmp/d3" env TXL_DATA_URL="http://127.0.0.1:$port/silent" \
  "$bin" "${run[@]}" --corpus text8 --data-dir "$tmp/d3" --out "$tmp/x" --download-timeout 2
[ $(($(date +%s) - start)) -lt 20 ] && ok || bad "the timeout took $(($(date +%s) - start)) s"
fails "nothing listening" "cannot connect" "$tmp/d4" env TXL_DATA_URL="http://127.0.0.1:1/ok" \
  "$bin" "${run[@]}" --corpus text8 --data-dir "$tmp/d4" --out "$tmp/x"
# A damaged archive that passes its (mirror's) checksum: unzip refuses it; the archive stays, nothing unpacked.
mkdir -p "$tmp/d5" && cp "$tmp/mirror/damaged.zip" "$tmp/d5/text8.zip"
expect_fail "damaged archive" "unzip failed" "$bin" "${run[@]}" --corpus text8 --data-dir "$tmp/d5" --out "$tmp/x"
[ "$(find "$tmp/d5" -mindepth 1 | wc -l)" -eq 1 ] && ok || bad "damaged archive: left $(find "$tmp/d5" -mindepth 1)"
expect_fail "unknown corpus" "expected one of enwik8, text8" "$bin" "${run[@]}" --corpus ptb --out "$tmp/x"
expect_fail "a level against the corpus" "enwik8 is read as bytes" "$bin" "${run[@]}" --corpus enwik8 --tokens words \
  --data-dir "$tmp/data" --out "$tmp/x"
expect_fail "--data and --corpus" "excludes" "$bin" "${run[@]}" --corpus enwik8 --data x --out "$tmp/x"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
