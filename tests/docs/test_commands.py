#!/usr/bin/env python3
"""Every program command the README and the docs show runs as written from the clone's root.

The commands are taken from the ```sh blocks of the Markdown files below (and from the prose's
code spans that start with `build/`): each line whose
program (after `VAR=value` assignments) is one of txl's built programs (`build/examples/...`,
`build/bench/...`) or `mpirun` starting one. They run in order, one file at a time, in a scratch directory laid out
as the clone's root after the README's first command: `build/examples` (the programs of this
build), `build/runs/practical` (a run of the main command) and `data/tiny_shakespeare.txt`.
The text is a small play-like file the test writes (enough distinct words for the adaptive
softmax's clusters), and the only changes to a command are its length:
`--minutes M` and `--steps N` become `--steps 2`, `--length` and `--sample-length` 8, and a
training run validates every step. A command that needs what this machine has not (another
machine of a hostfile, a shared file system, a corpus that must be downloaded, a text the docs
describe but do not ship, a bf16 CPU) is reported as skipped, with the reason.

Usage: test_commands.py BUILD_DIR
"""
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FILES = ["README.md", "docs/using.md", "docs/distributed.md", "docs/results.md", "docs/performance.md",
         "examples/txl/README.md", "tests/README.md"]


def commands(path):
    """(line number, command) for each program line of the file's ```sh blocks."""
    out, fence = [], None
    with open(os.path.join(ROOT, path)) as f:
        for n, line in enumerate(f, 1):
            m = re.match(r"\s*```(\w*)", line)
            if m:
                fence = None if fence is not None else m.group(1)
                continue
            if fence is None:  # prose: a command in a code span, `build/examples/...`
                out += [(n, m.group(1)) for m in re.finditer(r"`((?:mpirun [^`]*)?build/(?:examples|bench)/[^` ]+ [^`]+)`", line)]
                continue
            if fence not in ("sh", "bash"):
                continue
            line = line.split(" #")[0].strip()
            words = shlex.split(line, comments=True) if line else []
            while words and re.match(r"^[A-Z_]+=", words[0]):
                words = words[1:]
            if words and (words[0].startswith("build/") or words[0] == "mpirun"):
                out.append((n, line))
    return out


def skip_reason(cmd, root):
    """Why this command cannot run here, or None."""
    if any("|" in w or re.fullmatch(r"[A-Z][A-Z_]*", w) for w in shlex.split(cmd)):
        return "a synopsis (placeholders), not a command"
    if cmd.startswith("mpirun") and not shutil.which("mpirun"):
        return "Open MPI is not installed"
    program = next((w for w in shlex.split(cmd) if w.startswith("build/")), "")
    if program.startswith("build/bench/") and not os.path.exists(os.path.join(root, program)):
        return "a benchmark: built on request (--target bench)"
    if "--hostfile" in cmd or "/shared/" in cmd:
        return "needs other machines and a shared file system"
    m = re.search(r"--corpus (\S+)", cmd)
    if m and m.group(1) != "shakespeare":
        return "needs the %s download" % m.group(1)
    if "--precision bf16" in cmd and not bf16_cpu():
        return "needs a CPU that multiplies bfloat16 (AMX or AVX512_BF16)"
    for m in re.finditer(r"--data (\S+)", cmd):
        if m.group(1) != "-" and not os.path.exists(os.path.join(root, m.group(1))):
            return "the docs describe %s but do not ship it" % m.group(1)
    return None


def bf16_cpu():
    flags = open("/proc/cpuinfo").read()
    return " amx_bf16" in flags or " avx512_bf16" in flags


def shortened(cmd):
    """The command with its length cut (see the module comment)."""
    cmd = re.sub(r"--minutes \S+", "--steps 2", cmd)
    cmd = re.sub(r"--steps \d+", "--steps 2", cmd)
    cmd = re.sub(r"--(sample-)?length \d+", lambda m: "--%slength 8" % (m.group(1) or ""), cmd)
    if re.search(r"\btxl train\b", cmd):
        cmd = re.sub(r"--valid-every \d+", "--valid-every 1", cmd)
        if "--valid-every" not in cmd:
            cmd += " --valid-every 1"
    return cmd


def scratch_root(build, text, main_run):
    root = tempfile.mkdtemp(prefix="txl-docs-")
    os.makedirs(os.path.join(root, "build", "runs"))
    shutil.copytree(main_run, os.path.join(root, "build", "runs", "practical"))
    for sub in ("examples", "bench"):
        if os.path.isdir(os.path.join(build, sub)):
            os.symlink(os.path.join(build, sub), os.path.join(root, "build", sub))
    os.makedirs(os.path.join(root, "data"))
    shutil.copy(text, os.path.join(root, "data", "tiny_shakespeare.txt"))
    return root


def run(cmd, root, env):
    p = subprocess.run(["bash", "-c", cmd], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, errors="replace", timeout=600)
    return p.returncode, p.stdout


def main():
    build = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="txl-docs-text-")
    text = os.path.join(work, "text.txt")
    rng = random.Random(7)
    with open(text, "w") as f:
        for i in range(2500):  # a third of the words among 50, the rest among 4,000: a vocabulary of about 3,500
            words = " ".join("w%d" % rng.randrange(50 if rng.random() < 0.3 else 4000) for _ in range(rng.randint(4, 12)))
            f.write("%s:\n%s.\n\n" % (rng.choice(["ROMEO", "JULIET"]), words))
    env = dict(os.environ, TXL_TINY_SHAKESPEARE="data/tiny_shakespeare.txt")
    if os.geteuid() == 0:  # as the README says: Open MPI runs as root only when told so
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    main_run = os.path.join(work, "practical")  # what the README's first command leaves, shortened
    rc, out = run("%s/examples/txl train --preset practical --steps 2 --valid-every 1 --sample-length 8 --data %s "
                  "--out %s" % (build, text, main_run), work, env)
    assert rc == 0, out
    passed = failed = skipped = 0
    for path in FILES:
        if not os.path.exists(os.path.join(ROOT, path)):
            continue
        root = scratch_root(build, text, main_run)
        for n, cmd in commands(path):
            where = "%s:%d: %s" % (path, n, cmd)
            reason = skip_reason(cmd, root)
            if reason:
                print("skipped %s (%s)" % (where, reason))
                skipped += 1
                continue
            short = shortened(cmd)
            rc, out = run(short, root, env)
            if rc == 0:
                passed += 1
                print("ok      %s" % where)
            else:
                failed += 1
                print("FAILED  %s\n        ran: %s\n%s" % (where, short, "\n".join("        " + l for l in out.splitlines()[-8:])))
        shutil.rmtree(root)
    shutil.rmtree(work)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed or not passed else 0)


if __name__ == "__main__":
    main()
