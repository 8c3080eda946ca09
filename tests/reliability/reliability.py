#!/usr/bin/env python3
"""Reliability of txl under faults, hostile files, signals and large inputs.

    reliability.py BIN              the fast part (ctest `reliability.fast`, a few minutes)
    reliability.py BIN --long       the long part, by hand (see --help): a 200 MB text, fuzzing

The fast part asserts, each check printing one line:
  * kill -9 at random moments of a run that saves every step, resumed each time: every kill
    leaves a checkpoint that loads, and the final weights equal an uninterrupted run's bit for bit;
  * NaN injection: a checkpoint holding NaN (checksums made to match, so only the loader's own
    check stands between the NaN and the output) is refused by eval, sample and --resume; weights
    that overflow make the next step's loss infinite, and training stops naming the step, the
    checkpoint untouched;
  * random damage to a checkpoint (a changed, dropped or added byte, a cut, a file emptied or
    removed): always a non-zero exit with a message, never a crash, never a silent load;
  * with --failwrite (the LD_PRELOAD library failwrite.c): each write and fsync of a save failed
    in turn (a sample of them), then metrics.csv's and loss.svg's: an error with the reason,
    the previous checkpoint kept and resumable, no temporary directory left;
  * Ctrl-C and SIGTERM in every phase (loading a large text, training, validation, the final
    sample, eval, sample): the program ends, in training with its checkpoint saved; the time from
    the signal to the exit is printed, and must stay under a generous bound here (the long part
    measures it on a 200 MB text).
Bad numeric options, a full disk (ulimit -f), interrupted swaps and torn checkpoints are
checked by tests/cli/test_cli.sh, which ctest runs beside this.

The long part (`--long`) measures, for a 200 MB text (Tiny Shakespeare repeated when --text or
$TXL_TINY_SHAKESPEARE gives it, else generated): peak resident memory and the time to the first
training step, the time from Ctrl-C to the exit in each phase, for BIN and for `--before BIN` if
given; then `--fuzz N` random mutations of checkpoints, vocabularies, configs and texts (run it
with a binary built with -DTXL_SANITIZE=ON to have AddressSanitizer and UBSan watch).
Only the standard library: no numpy.
"""
import argparse
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

PASS, FAIL = [], []


def ok(name, detail=""):
    PASS.append(name)
    print(f"ok    {name}" + (f"  ({detail})" if detail else ""), flush=True)


def bad(name, detail=""):
    FAIL.append(name)
    print(f"FAIL  {name}" + (f": {detail}" if detail else ""), flush=True)


def expect(cond, name, detail=""):
    """`detail` is printed on failure only."""
    if cond:
        ok(name)
    else:
        bad(name, detail)
    return cond


def run(cmd, timeout=600, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    return p.returncode, p.stdout, p.stderr


def write_play(path, n_bytes, seed=1):
    """A play-like text of about n_bytes characters (ASCII), the same for the same seed."""
    rng = random.Random(seed)
    words = ("light through yonder window breaks it is the east and juliet sun arise fair kill envious "
             "moon who already sick pale with grief that thou her maid art far more than she").split()
    names = ["ROMEO", "JULIET", "MERCUTIO", "NURSE", "FRIAR"]
    block = []
    for _ in range(400):
        line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 11)))
        block.append(f"{rng.choice(names)}:\n{line.capitalize()}.\n\n")
    block = "".join(block)
    with open(path, "w") as f:
        written = 0
        while written < n_bytes:
            f.write(block)
            written += len(block)


def repeat_file(src, path, n_bytes):
    data = open(src, "rb").read()
    with open(path, "wb") as f:
        written = 0
        while written < n_bytes:
            f.write(data)
            written += len(data)


# --- .npy and checksums, enough to edit a checkpoint the way a bit flip or a bad update would

def npy_floats(path):
    raw = open(path, "rb").read()
    hlen = struct.unpack("<H", raw[8:10])[0] if raw[6] == 1 else struct.unpack("<I", raw[8:12])[0]
    start = (10 if raw[6] == 1 else 12) + hlen
    assert b"'<f4'" in raw[:start], path
    n = (len(raw) - start) // 4
    return raw[:start], list(struct.unpack(f"<{n}f", raw[start:]))


def write_npy_floats(path, header, values):
    with open(path, "wb") as f:
        f.write(header + struct.pack(f"<{len(values)}f", *values))


def fnv1a64(path):
    h = 1469598103934665603
    for b in open(path, "rb").read():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def reseal(ckpt):
    """Rewrite checksums.txt to match the files as they are now (a "valid" but edited checkpoint)."""
    lines = ["# fnv1a64 of every file of this checkpoint, checked when it is loaded"]
    for root, _, files in os.walk(ckpt):
        for name in files:
            p = os.path.join(root, name)
            rel = os.path.relpath(p, ckpt)
            if rel != "checksums.txt":
                lines.append((rel, fnv1a64(p)))
    head, rest = lines[0], sorted(lines[1:])
    with open(os.path.join(ckpt, "checksums.txt"), "w") as f:
        f.write(head + "\n" + "".join(f"{h} {rel}\n" for rel, h in rest))


def tree_bytes(d):
    out = {}
    for root, _, files in os.walk(d):
        for name in files:
            p = os.path.join(root, name)
            out[os.path.relpath(p, d)] = open(p, "rb").read()
    return out


# --- signals

class Proc:
    """A child whose output goes to files (no pipe to fill up), polled for a pattern."""

    def __init__(self, cmd, tmp, name):
        self.out_path, self.err_path = os.path.join(tmp, name + ".out"), os.path.join(tmp, name + ".err")
        self.out, self.err = open(self.out_path, "w"), open(self.err_path, "w")
        self.t0 = time.monotonic()
        # SIGINT as in a terminal: a script started in the background (`cmd &`) has it ignored,
        # and txl keeps a signal ignored that it was started with ignored.
        self.p = subprocess.Popen(cmd, stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL,
                                  preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.rusage = None

    def text(self):
        return open(self.out_path).read() + open(self.err_path).read()

    def reaped(self):
        """Whether the child has exited (reaped here, with its resource usage)."""
        if self.p.returncode is None:
            pid, status, ru = os.wait4(self.p.pid, os.WNOHANG)
            if pid:
                self.rusage = ru
                self.p.returncode = os.waitstatus_to_exitcode(status)
        return self.p.returncode is not None

    def wait_for(self, pattern, timeout):
        """Seconds from the start until `pattern` appears in the output; None if it exits first."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if re.search(pattern, self.text(), re.M):
                return time.monotonic() - self.t0
            if self.reaped():
                return None
            time.sleep(0.02)
        return None

    def finish(self, timeout):
        """Wait for the exit (kill -9 after `timeout`): (exit status as the shell sees it, seconds)."""
        t = time.monotonic()
        while not self.reaped():
            if time.monotonic() - t > timeout:
                self.p.send_signal(signal.SIGKILL)
                while not self.reaped():
                    time.sleep(0.01)
                self.out.close(), self.err.close()
                return None, timeout
            time.sleep(0.005)
        self.out.close(), self.err.close()
        rc = self.p.returncode
        return (128 - rc if rc < 0 else rc), time.monotonic() - t

    def signal_and_wait(self, sig, timeout):
        self.p.send_signal(sig)
        return self.finish(timeout)


def phases(bin_, text, small, tmp, bound, tag=""):
    """Ctrl-C / SIGTERM in each phase; returns {phase: (exit status, seconds from signal to exit)}."""
    res = {}
    common = ["--preset", "practical", "--log-every", "1", "--save-every", "1000000"]

    def case(phase, cmd, wait_pattern, delay, sig, want_status, need_saved=None):
        d = os.path.join(tmp, f"sig_{phase}{tag}")
        shutil.rmtree(d, ignore_errors=True)
        cmd = [a.replace("@OUT@", d) for a in cmd]
        p = Proc(cmd, tmp, f"sig_{phase}{tag}")
        if wait_pattern and p.wait_for(wait_pattern, 600) is None:
            rc, _ = p.finish(5)
            bad(f"signal during {phase}{tag}: the phase never began", f"exit {rc}: {p.text()[-300:]}")
            return
        time.sleep(delay)
        rc, dt = p.signal_and_wait(sig, bound)
        res[phase] = (rc, dt)
        good = rc == want_status and dt < bound
        if need_saved:
            good = good and os.path.exists(os.path.join(d, "checkpoint", "trainer.txt"))
        expect(good, f"{signal.Signals(sig).name} during {phase}{tag}: exit {rc} after {dt:.2f} s",
               f"expected {want_status} within {bound} s{' with a checkpoint saved' if need_saved else ''}; "
               f"{p.text()[-300:]}")

    train = [bin_, "train", "--data", text, "--out", "@OUT@"] + common
    # Loading: the signal arrives while the text is read (before training there is nothing to
    # save; the default action ends the program).
    case("loading", train + ["--steps", "5"], None, 0.3, signal.SIGINT, 130)
    case("training", train + ["--minutes", "60", "--valid-every", "1000000", "--sample-length", "0"],
         r"^step 2 ", 0.2, signal.SIGINT, 130, need_saved=True)
    case("training (SIGTERM)", train + ["--minutes", "60", "--valid-every", "1000000", "--sample-length", "0"],
         r"^step 2 ", 0.2, signal.SIGTERM, 143, need_saved=True)
    # Validation starts after step 2's update; step 1's log line says it is about to.
    case("validation", train + ["--minutes", "60", "--valid-every", "2", "--sample-length", "0"],
         r"^step 1 ", 1.0, signal.SIGINT, 130, need_saved=True)
    # (On the small text: the last step validates, which takes minutes on the large one.)
    case("final sample", [a.replace(text, small) for a in train] + ["--steps", "1", "--valid-every", "1000000", "--sample-length", "10000000"],
         r"^--- sample", 0.3, signal.SIGINT, 130, need_saved=True)
    ckpt = os.path.join(tmp, f"sig_training{tag}")
    case("eval", [bin_, "eval", "--checkpoint", ckpt, "--data", text], None, 1.5, signal.SIGINT, 130)
    case("sample", [bin_, "sample", "--checkpoint", ckpt, "--prompt", "ROMEO:", "--length", "10000000"],
         r"ROMEO:", 0.3, signal.SIGINT, 130)
    return res


# --- the fast part

def kill9_resume(bin_, text, tmp, kills, rng):
    base = [bin_, "train", "--data", text, "--preset", "practical", "--valid-every", "5", "--save-every", "1",
            "--log-every", "1", "--sample-length", "0"]
    steps = 10
    straight = os.path.join(tmp, "k_straight")
    rc, _, err = run(base + ["--steps", str(steps), "--out", straight])
    if not expect(rc == 0, "kill -9: the uninterrupted run", err[-300:]):
        return
    killed = os.path.join(tmp, "k_killed")
    done, loads_ok, n = 0, True, 0
    while done < steps and n < 200:
        n += 1
        resume = os.path.exists(os.path.join(killed, "checkpoint")) or os.path.exists(os.path.join(killed, ".checkpoint.old"))
        cmd = base + ["--steps", str(steps), "--out", killed] + (["--resume"] if resume else ["--force"])
        p = Proc(cmd, tmp, "k_run")
        if kills > 0:
            kills -= 1
            time.sleep(rng.uniform(0.3, 2.0))  # loading, a step, a save, a validation: wherever it lands
            p.p.send_signal(signal.SIGKILL)
        rc, _ = p.finish(300)
        if rc not in (0, 137):
            bad("kill -9: a run failed", f"exit {rc}: {p.text()[-400:]}")
            return
        if os.path.exists(os.path.join(killed, "checkpoint")) or os.path.exists(os.path.join(killed, ".checkpoint.old")):
            erc, _, eerr = run([bin_, "eval", "--latest", "--checkpoint", killed, "--data", text])
            loads_ok &= erc == 0
            if erc:
                print(eerr[-400:])
        if rc == 0:
            done = steps
    expect(loads_ok, f"kill -9: every one of {n - 1} kills left a checkpoint eval loads")
    a = tree_bytes(os.path.join(straight, "checkpoint"))
    b = tree_bytes(os.path.join(killed, "checkpoint"))
    differ = [k for k in a if k.endswith(".npy") and a[k] != b.get(k)]
    expect(not differ and len(a) == len(b), "kill -9: the resumed weights, moments and memory equal the straight run's",
           f"differ: {differ[:5]}")
    return straight


def nan_injection(bin_, text, tmp, trained):
    src = os.path.join(trained, "checkpoint")
    # A NaN in a weight, checksums made to match: the loader's finiteness check must refuse it.
    d = os.path.join(tmp, "nan_run")
    shutil.copytree(trained, d)
    f = os.path.join(d, "checkpoint", "transformer.layers.2.self_attn.output.weight.npy")
    header, v = npy_floats(f)
    v[17] = float("nan")
    write_npy_floats(f, header, v)
    reseal(os.path.join(d, "checkpoint"))
    for what, cmd in [("eval", [bin_, "eval", "--latest", "--checkpoint", d, "--data", text]),
                      ("sample", [bin_, "sample", "--latest", "--checkpoint", d, "--prompt", "R", "--length", "5"]),
                      ("resume", [bin_, "train", "--data", text, "--preset", "practical", "--steps", "12",
                                  "--out", d, "--resume"])]:
        rc, out, err = run(cmd)
        expect(rc == 1 and "not finite" in err and "nan" not in out.lower(),
               f"NaN in a weight: {what} refuses it", f"exit {rc}: {err[-200:]}")
    # A NaN in Adam's moments would reach the weights with the first update: refused too.
    d = os.path.join(tmp, "nan_moment")
    shutil.copytree(trained, d)
    f = os.path.join(d, "checkpoint", "optimizer", "generator.weight.v.npy")
    header, v = npy_floats(f)
    v[3] = float("nan")
    write_npy_floats(f, header, v)
    reseal(os.path.join(d, "checkpoint"))
    rc, _, err = run([bin_, "train", "--data", text, "--preset", "practical", "--steps", "12", "--out", d, "--resume"])
    expect(rc == 1 and "not finite" in err, "NaN in an optimizer moment: resume refuses it", f"exit {rc}: {err[-200:]}")
    # Weights that overflow (finite, so they load): the generator's at +-3e38 make the logits
    # infinite, so the next step's loss is not finite. Training must stop before the update,
    # naming the step, and leave the checkpoint as it was.
    d = os.path.join(tmp, "overflow_run")
    shutil.copytree(trained, d)
    f = os.path.join(d, "checkpoint", "generator.weight.npy")
    header, v = npy_floats(f)
    signs = random.Random(7)
    write_npy_floats(f, header, [3e38 if signs.random() < 0.5 else -3e38 for _ in v])
    reseal(os.path.join(d, "checkpoint"))
    before = tree_bytes(os.path.join(d, "checkpoint"))
    rc, _, err = run([bin_, "train", "--data", text, "--preset", "practical", "--steps", "14", "--save-every", "1",
                      "--out", d, "--resume"])
    expect(rc == 1 and "training step 11:" in err and "not finite" in err,
           "overflowing weights: training stops at step 11 with a message", f"exit {rc}: {err[-300:]}")
    expect(tree_bytes(os.path.join(d, "checkpoint")) == before, "overflowing weights: the checkpoint is untouched")


def write_faults(bin_, text, tmp, so):
    """Each write (sampled) and fsync of a save made to fail in turn through the LD_PRELOAD
    library failwrite.c, then metrics.csv's and loss.svg's writes: a non-zero exit with the
    reason, the previous checkpoint intact (and resumable), no temporary directory left."""
    base = [bin_, "train", "--data", text, "--preset", "practical", "--valid-every", "1000", "--log-every", "1",
            "--sample-length", "0"]
    first = os.path.join(tmp, "fw_base")
    rc, _, err = run(base + ["--steps", "2", "--out", first])
    if not expect(rc == 0, "write faults: a checkpoint at step 2", err[-300:]):
        return
    env = dict(os.environ, LD_PRELOAD=so, TXL_FAIL_UNDER=".checkpoint.tmp", TXL_FAIL_REPORT="1")
    d = os.path.join(tmp, "fw_count")
    shutil.copytree(first, d)
    rc, _, err = run(base + ["--steps", "3", "--out", d, "--resume"], env=env)
    m = re.search(r"failwrite: (\d+) writes, (\d+) fsyncs", err)
    if not expect(rc == 0 and m is not None, "write faults: a save counted", err[-300:]):
        return
    W, F = int(m.group(1)), int(m.group(2))
    # The first writes (parameters), a spread through the optimizer state and the memory, and
    # the last ones (trainer.txt, vocab.txt, config.txt, checksums.txt); fsyncs likewise, the
    # last being the directories'.
    cases = [("TXL_FAIL_WRITE", n) for n in sorted({1, W // 4, W // 2, 3 * W // 4, *range(W - 5, W + 1)})]
    cases += [("TXL_FAIL_FSYNC", n) for n in sorted({1, F // 2, F - 1, F})]
    problems = []
    for var, n in cases:
        d = os.path.join(tmp, "fw_case")
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(first, d)
        rc, _, err = run(base + ["--steps", "3", "--out", d, "--resume"], env=dict(env, **{var: str(n)}))
        trainer = open(os.path.join(d, "checkpoint", "trainer.txt")).read()
        left = [f for f in os.listdir(d) if f.startswith(".checkpoint")]
        if rc != 1 or "error:" not in err or not ("disk full" in err or "I/O error" in err):
            problems.append(f"{var}={n}: exit {rc}, {err.strip().splitlines()[-1] if err.strip() else ''}")
        elif "step 2\n" not in trainer or left:
            problems.append(f"{var}={n}: previous checkpoint not kept (left: {left})")
    expect(not problems, f"write faults: {len(cases)} of a save's {W} writes and {F} fsyncs failed in turn, each an "
           "error with the reason and the step-2 checkpoint kept", "; ".join(problems[:4]))
    rc, _, err = run(base + ["--steps", "3", "--out", d, "--resume"])
    expect(rc == 0, "write faults: the kept checkpoint resumes", err[-300:])
    # The logs: a metrics.csv row or loss.svg that cannot be written stops the run with the
    # reason, after saving what was trained.
    for under, n, want in [("metrics.csv", 1, "metrics.csv"), ("metrics.csv", 3, "metrics.csv"),
                           ("loss.svg", 1, "loss.svg")]:
        d = os.path.join(tmp, "fw_log")
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(first, d)
        rc, _, err = run(base + ["--steps", "5", "--out", d, "--resume"],
                         env=dict(os.environ, LD_PRELOAD=so, TXL_FAIL_UNDER=under, TXL_FAIL_WRITE=str(n)))
        erc, _, _ = run([bin_, "eval", "--latest", "--checkpoint", d, "--data", text])
        expect(rc == 1 and want in err and "disk full" in err and erc == 0,
               f"write faults: {under} write {n} fails: exit 1 with the reason, a checkpoint that loads",
               f"exit {rc}, eval {erc}: {err[-300:]}")


def mutate(path, rng):
    """One random damage to a file: a changed, dropped or inserted byte, a cut, emptied."""
    data = bytearray(open(path, "rb").read())
    kind = rng.choice(["flip", "drop", "insert", "cut", "empty", "set"]) if data else "insert"
    i = rng.randrange(len(data)) if data else 0
    if kind == "flip":
        data[i] ^= 1 << rng.randrange(8)
    elif kind == "set":
        data[i] = rng.choice([0, 0xFF, ord("9"), ord("-"), ord("n"), 0x80])
    elif kind == "drop":
        del data[i]
    elif kind == "insert":
        data[i:i] = bytes([rng.randrange(256)])
    elif kind == "cut":
        del data[i:]
    else:
        data = bytearray()
    changed = bytes(data) != open(path, "rb").read()
    open(path, "wb").write(bytes(data))
    return kind if changed else None


def damage(bin_, text, tmp, trained, n, rng, reseal_some=False, name="random damage"):
    """n damaged copies of a checkpoint: eval must fail cleanly (exit 1, 'error:'), never crash
    (exit >= 128 or a sanitizer report), never load silently. With reseal_some, half of them get
    matching checksums (a hand edit), so the readers' own checks are what stands."""
    src = os.path.join(trained, "checkpoint")
    files = sorted(os.path.relpath(os.path.join(r, f), src) for r, _, fs in os.walk(src) for f in fs)
    crashes, silent, kinds = [], [], {}
    for k in range(n):
        d = os.path.join(tmp, "dmg")
        shutil.rmtree(d, ignore_errors=True)
        shutil.copytree(trained, d)
        rel = rng.choice(files)
        p = os.path.join(d, "checkpoint", rel)
        if rng.random() < 0.08:
            os.remove(p)
            kind = "removed"
        else:
            kind = mutate(p, rng)
            if kind is None:  # the same bytes: nothing to detect
                continue
        resealed = reseal_some and rng.random() < 0.5 and rel != "checksums.txt" and os.path.exists(p)
        if resealed:
            reseal(os.path.join(d, "checkpoint"))
        kinds[kind] = kinds.get(kind, 0) + 1
        cmd = rng.choice([[bin_, "eval", "--latest", "--checkpoint", d, "--data", text],
                          [bin_, "sample", "--latest", "--checkpoint", d, "--prompt", "R", "--length", "3"]])
        rc, out, err = run(cmd, timeout=300)
        if rc >= 128 or rc < 0 or "Sanitizer" in err or "runtime error" in err:
            crashes.append(f"{rel} {kind}: exit {rc} {err[-200:]}")
        elif rc == 0 and not resealed and rel != "checksums.txt":
            # Only a resealed edit may load (matching checksums make it a valid checkpoint whenever
            # the readers accept the values: a changed weight is still a weight), or damage to
            # checksums.txt's comment or the whole file (the data is as saved).
            silent.append(f"{rel} {kind}")
        elif rc not in (0, 1) or (rc == 1 and "error:" not in err):
            crashes.append(f"{rel} {kind}: exit {rc} without a message")
    expect(not crashes, f"{name}: {n} damaged checkpoints, no crash", "; ".join(crashes[:5]))
    expect(not silent, f"{name}: none loaded silently ({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})",
           "; ".join(silent[:5]))


def fast(args, tmp):
    t0 = time.monotonic()
    rng = random.Random(args.seed)
    text = os.path.join(tmp, "text.txt")
    write_play(text, 200_000)
    trained = kill9_resume(args.bin, text, tmp, args.kills, rng)
    print(f"  ({time.monotonic() - t0:.0f} s)")
    if trained:
        nan_injection(args.bin, text, tmp, trained)
        print(f"  ({time.monotonic() - t0:.0f} s)")
        damage(args.bin, text, tmp, trained, args.damage, rng)
        print(f"  ({time.monotonic() - t0:.0f} s)")
    if args.failwrite:
        write_faults(args.bin, text, tmp, os.path.abspath(args.failwrite))
        print(f"  ({time.monotonic() - t0:.0f} s)")
    big = os.path.join(tmp, "big.txt")
    write_play(big, 64 << 20)
    res = phases(args.bin, big, text, tmp, bound=args.signal_bound)
    print("signal to exit, 64 MB text: " + ", ".join(f"{k} {v[1]:.2f} s" for k, v in res.items()))
    print(f"  ({time.monotonic() - t0:.0f} s)")


# --- the long part

def first_step(bin_, text, tmp, tag):
    """Peak resident memory and seconds to the first training step (and to the end of loading)."""
    d = os.path.join(tmp, "first" + tag)
    # (--minutes, not --steps 1: the last step of a run validates, minutes on this text.)
    p = Proc([bin_, "train", "--data", text, "--preset", "practical", "--minutes", "600", "--valid-every", "1000000",
              "--log-every", "1", "--sample-length", "0", "--out", d, "--force"], tmp, "first" + tag)
    t_step = p.wait_for(r"^step 1 ", 3600)
    p.wait_for(r"^step 3 ", 600)  # the peak: from step 2 on, the memory is full and the caches their largest
    rc, _ = p.signal_and_wait(signal.SIGTERM, 60)
    peak_mb = p.rusage.ru_maxrss / 1024 if p.rusage else float("nan")
    return rc, t_step, peak_mb


def long(args, tmp):
    rng = random.Random(args.seed)
    small = os.path.join(tmp, "text.txt")
    write_play(small, 200_000)
    if args.mb > 0:
        large(args, tmp, small)
    if args.fuzz:
        trained = os.path.join(tmp, "fuzz_run")
        rc, _, err = run([args.bin, "train", "--data", small, "--preset", "practical", "--steps", "2",
                          "--sample-length", "0", "--out", trained])
        if expect(rc == 0, "fuzz: a checkpoint to damage", err[-300:]):
            damage(args.bin, small, tmp, trained, args.fuzz, rng, reseal_some=True, name="fuzz")
        fuzz_texts(args.bin, small, tmp, trained, max(args.fuzz // 4, 1), rng)


def large(args, tmp, small):
    text = os.path.join(tmp, "big.txt")
    shakespeare = args.text or os.environ.get("TXL_TINY_SHAKESPEARE")
    n = args.mb * 1_000_000
    if shakespeare:
        repeat_file(shakespeare, text, n)
        print(f"text: {shakespeare} repeated to {os.path.getsize(text) / 1e6:.1f} MB")
    else:
        write_play(text, n)
        print(f"text: a generated play, {os.path.getsize(text) / 1e6:.1f} MB")
    bins = [("after", args.bin)] + ([("before", args.before)] if args.before else [])
    for tag, b in bins:
        # The training state (weights, gradients, Adam's moments, the activations a step keeps for
        # its backward pass: ~435 MB for `practical`) is the same for any text; what the text
        # itself costs is the difference to a run on a small one.
        _, _, base = first_step(b, small, tmp, "_small_" + tag)
        rc, t, peak = first_step(b, text, tmp, "_" + tag)
        size_mb = os.path.getsize(text) / 1e6
        print(f"{tag}: exit {rc}, first step after {t if t is None else round(t, 1)} s, peak resident "
              f"{peak:.0f} MB = {peak / size_mb:.2f}x the file; on a 0.2 MB text {base:.0f} MB, so the text costs "
              f"{peak - base:.0f} MB = {(peak - base) / size_mb:.2f}x its size", flush=True)
        if tag == "after":
            expect(rc == 143 and t is not None and peak - base < 1.5 * size_mb,
                   f"{args.mb} MB text: it costs less than 1.5x its size in memory", f"{peak - base:.0f} MB")
        res = phases(b, text, small, tmp, bound=args.signal_bound, tag="_" + tag)
        print(f"{tag}: signal to exit: " + ", ".join(f"{k} {v[1]:.2f} s (exit {v[0]})" for k, v in res.items()),
              flush=True)


def fuzz_texts(bin_, small, tmp, trained, n, rng):
    """Damaged texts (random bytes, cut characters) for eval and train: a clean error or a clean run."""
    base = open(small, "rb").read()[:20000] + "é € 😀 ".encode() * 50
    crashes = []
    for k in range(n):
        p = os.path.join(tmp, "fuzz.txt")
        open(p, "wb").write(base)
        for _ in range(rng.randint(1, 8)):
            mutate(p, rng)
        cmd = rng.choice([[bin_, "eval", "--checkpoint", trained, "--data", p],
                          [bin_, "train", "--data", p, "--preset", "practical", "--steps", "1", "--sample-length", "0",
                           "--out", os.path.join(tmp, "fuzz_train"), "--force"]])
        rc, _, err = run(cmd, timeout=300)
        if rc >= 128 or rc < 0 or "Sanitizer" in err or "runtime error" in err or (rc == 1 and "error:" not in err):
            crashes.append(f"exit {rc}: {err[-200:]}")
    expect(not crashes, f"fuzz: {n} damaged texts, each a clean run or a clean error", "; ".join(crashes[:5]))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bin", help="the txl program")
    ap.add_argument("--long", action="store_true", help="the long part (by hand)")
    ap.add_argument("--before", help="long part: another build to measure beside BIN")
    ap.add_argument("--text", help="long part: a text to repeat (default $TXL_TINY_SHAKESPEARE, else generated)")
    ap.add_argument("--mb", type=int, default=200, help="long part: size of the large text in MB (default 200; 0: fuzzing only)")
    ap.add_argument("--fuzz", type=int, default=2000, help="long part: damaged checkpoints to try (default 2000)")
    ap.add_argument("--failwrite", help="fast part: failwrite.so (tests/reliability/failwrite.c) to inject write faults")
    ap.add_argument("--kills", type=int, default=8, help="fast part: kill -9 count (default 8)")
    ap.add_argument("--damage", type=int, default=40, help="fast part: damaged checkpoints (default 40)")
    ap.add_argument("--signal-bound", type=float, default=10.0,
                    help="seconds a signal may take to end the program (default 10: CI machines are busy)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    with tempfile.TemporaryDirectory(prefix="txl_reliability_") as tmp:
        (long if args.long else fast)(args, tmp)
    print(f"{len(PASS)} passed, {len(FAIL)} failed")
    return 1 if FAIL else 0


if __name__ == "__main__":
    sys.exit(main())
