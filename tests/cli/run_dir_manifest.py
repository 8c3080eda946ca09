#!/usr/bin/env python3
"""The layout of a txl_shakespeare run directory, as text: what a later version must keep reading.

Usage: run_dir_manifest.py RUN_DIR

One line per file, in sorted order: `.npy` files by dtype and shape; `config.txt`, `trainer.txt`
and `vocab.txt` whole (they follow from the command line and the text alone); `best.txt` and
`checksums.txt` by their keys and file names (their values depend on the machine's rounding);
`metrics.csv` by its header and its steps; anything else by its name. Two run directories made
by the same command have the same manifest on any machine; `tests/cli/run_dir_v1.manifest` is
the one the release that fixed this layout wrote (see tests/cli/test_run_dir_layout.sh).
"""
import ast
import os
import sys


def npy_line(path):
    with open(path, "rb") as f:
        magic = f.read(6)
        if magic != b"\x93NUMPY":
            return "not an .npy file"
        major = f.read(2)[0]
        n = int.from_bytes(f.read(2 if major == 1 else 4), "little")
        header = ast.literal_eval(f.read(n).decode("latin1"))
    return "npy %s %s fortran=%s" % (header["descr"], header["shape"], header["fortran_order"])


def describe(root, rel):
    path = os.path.join(root, rel)
    name = os.path.basename(rel)
    if name.endswith(".npy"):
        return [rel + ": " + npy_line(path)]
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines()
    if name in ("config.txt", "trainer.txt", "vocab.txt"):
        return [rel + ": " + line for line in lines]
    if name == "best.txt":
        return [rel + ": key " + line.split()[0] for line in lines if line.strip()]
    if name == "checksums.txt":
        return [rel + ": lists " + line.split()[1] for line in lines if line.strip() and not line.startswith("#")]
    if name == "metrics.csv":
        return [rel + ": header " + lines[0]] + [rel + ": step " + line.split(",")[0] for line in lines[1:]]
    return [rel + ": present"]


def main():
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        sys.exit("usage: run_dir_manifest.py RUN_DIR")
    root = sys.argv[1]
    files = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
    for rel in files:
        for line in describe(root, rel):
            print(line)


if __name__ == "__main__":
    main()
