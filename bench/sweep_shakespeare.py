#!/usr/bin/env python3
"""The sweep behind the Tiny Shakespeare presets: every configuration trained for the same time
budget on this machine, one after the other, with its best validation loss.

    python3 bench/sweep_shakespeare.py --bin build/examples/txl \\
        --data tiny_shakespeare.txt --minutes 10 --out runs/sweep10 [--only NAME,NAME]
    python3 bench/sweep_shakespeare.py --preset long --minutes 60 --out runs/sweep60 ...

Each configuration is a set of `txl train` options on top of `--preset practical`
(the ten-minute sweep) or `--preset long` (the one-hour sweep). Model shapes are compile-time
types; the example program is built with a few (`--size`: base, ff512, deep, wide, narrow), and
those are rows here too. A run
writes `<out>/<name>/` (the usual run directory plus `train.log`); a configuration whose
`train.log` already ends with `valid_loss` is not run again, so an interrupted sweep continues
where it stopped. At the end (and with `--table` alone) the results are printed as a Markdown
table: steps, tokens per second over the whole run (validations included), the best validation
loss and its step, and the best's loss without memory. Run it on an otherwise idle machine: the
budget is wall-clock time, so anything else running costs steps.
"""
import argparse
import os
import re
import subprocess
import sys

# name -> (options after --preset practical, what it tests). The rows before the shape rows ran
# when the practical preset had labml's shape and batch 32, validating every 250 steps; they
# spell that out, so that each row trains what it trained when it was measured.
COMMON = ['--schedule', 'cosine', '--warmup', '200', '--min-lr', '1e-4']


def before(size='base', batch=32):
    """The practical preset's shape before the shape rows (labml's, batch 32), or a change of it."""
    return ['--size', size, '--batch', str(batch), '--valid-every', '250', '--save-every', '250', '--log-every', '25']


SWEEP = {
    'cos2e-3-drop0.1': (COMMON + before() + ['--lr', '2e-3', '--dropout', '0.1'],
                        'cosine to the end of the budget (warm-up 200, down to 1e-4), peak 2e-3, dropout 0.1'),
    'cos2e-3-drop0.1-wd0.1': (COMMON + before() + ['--lr', '2e-3', '--dropout', '0.1', '--weight-decay', '0.1'],
                              'the same + AdamW weight decay 0.1'),
    'cos3e-3-drop0.1': (COMMON + before() + ['--lr', '3e-3', '--dropout', '0.1'], 'peak 3e-3, dropout 0.1'),
    'cos3e-3-drop0.1-sin': (COMMON + before() + ['--lr', '3e-3', '--dropout', '0.1', '--encoding', 'sinusoidal'],
                            "the same with the paper's attention (sinusoidal distances, u and v)"),
    'cos3e-3-drop0.1-att0': (COMMON + before() + ['--lr', '3e-3', '--dropout', '0.1', '--dropatt', '0'],
                             'dropout 0.1, none on the attention weights'),
    'cos3e-3-drop0.15': (COMMON + before() + ['--lr', '3e-3', '--dropout', '0.15'], 'peak 3e-3, dropout 0.15'),
    'cos3e-3-drop0.05': (COMMON + before() + ['--lr', '3e-3', '--dropout', '0.05'], 'peak 3e-3, dropout 0.05'),
    'cos3e-3-drop0': (COMMON + before() + ['--lr', '3e-3', '--dropout', '0'], 'peak 3e-3, no dropout'),
    'base-b32': (before(), 'schedule and dropout chosen from the rows above (= cos3e-3-drop0.05); '
                           "labml's shape (d_model 128, 4 heads, d_ff 256, 6 layers), batch 32"),
    # Shapes, on top of that: more, smaller steps; a longer memory; longer segments; the model.
    'base-b16': (before(batch=16), 'batch 16: twice the steps, half the characters each'),
    'base-mem128': (before() + ['--mem-len', '128'], 'memory 128'),
    'base-seq128-mem128': (before() + ['--seq-len', '128', '--mem-len', '128'], 'segment 128 and memory 128'),
    'ff512-b32': (before('ff512'), 'd_ff 512 (4 d_model; `--size ff512`)'),
    'narrow-b32': (before('narrow'), 'd_model 96, 3 heads, d_ff 192 (`--size narrow`)'),
    'deep-b32': (before('deep'), '8 layers (`--size deep`)'),
    'wide-b32': (before('wide'), 'd_model 192, 6 heads, d_ff 384 (`--size wide`)'),
    'practical': ([], 'the preset chosen from the rows above: d_ff 512, batch 16, validation every 500 steps'),
}
# name -> (options after --preset long, what it tests): the one-hour sweep.
LONG_SWEEP = {
    'long-base': (['--size', 'base'], "labml's shape, batch 32, dropout 0.1 (the long preset before this sweep)"),
    'long': ([], 'the long preset: d_ff 512 (the ten-minute winner), batch 32, dropout 0.1'),
    'long-drop0.15': (['--dropout', '0.15'], 'the same with dropout 0.15'),
    'long-b16': (['--batch', '16'], 'the same at batch 16 (the practical preset for an hour)'),
    'long-drop0.05': (['--dropout', '0.05'], 'the same with dropout 0.05'),
}
SWEEPS = {'practical': SWEEP, 'long': LONG_SWEEP}


def result(log_path):
    """(steps, tokens/s, best loss, best step, best accuracy, loss with memory 0) from a train.log."""
    if not os.path.exists(log_path):
        return None
    text = open(log_path, encoding='utf-8', errors='replace').read()
    last = re.search(r'^valid_loss (\S+) valid_acc (\S+)\s*$', text, re.M)
    trained = re.search(r'^trained (\d+) steps \((\d+) tokens\) in (\d+):(\d+)(?::(\d+))?', text, re.M)
    best = re.search(r'^best: step (\d+) of (\d+)', text, re.M)
    if not (last and trained and best):
        return None
    parts = [int(x) for x in trained.groups()[2:] if x is not None]
    secs = parts[0] * 60 + parts[1] if len(parts) == 2 else parts[0] * 3600 + parts[1] * 60 + parts[2]
    mem0 = re.search(r'mem_len 0: (\S+)', text)
    return dict(steps=int(trained.group(1)), tps=int(trained.group(2)) / max(secs, 1), loss=float(last.group(1)),
                acc=float(last.group(2)), best_step=int(best.group(1)), mem0=float(mem0.group(1)) if mem0 else None)


def table(out, names, sweep):
    rows = ['| configuration | what it tests | steps | tokens/s | best valid (step) | bits/char | no memory |',
            '|---|---|---:|---:|---:|---:|---:|']
    for name in names:
        r = result(os.path.join(out, name, 'train.log'))
        if r is None:
            continue
        mem0 = f"{r['mem0']:.4f}" if r['mem0'] is not None else '-'
        rows.append(f"| `{name}` | {sweep[name][1]} | {r['steps']:,} | {r['tps']:,.0f} | "
                    f"{r['loss']:.4f} ({r['best_step']:,}) | {r['loss'] / 0.6931471805599453:.3f} | {mem0} |")
    return '\n'.join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--bin', default='build/examples/txl')
    ap.add_argument('--data', required=True)
    ap.add_argument('--preset', dest='config', default='practical', choices=list(SWEEPS),
                    help='the built-in config the rows start from, and so which rows (default: practical)')
    ap.add_argument('--minutes', type=float, default=10)
    ap.add_argument('--out', required=True)
    ap.add_argument('--only', default='', help='comma-separated configuration names (default: all)')
    ap.add_argument('--table', action='store_true', help='print the table of the finished runs only')
    a = ap.parse_args()
    sweep = SWEEPS[a.config]
    names = [n for n in a.only.split(',') if n] or list(sweep)
    for n in names:
        if n not in sweep:
            sys.exit(f'unknown configuration {n!r}; known: {", ".join(sweep)}')
    if not a.table:
        os.makedirs(a.out, exist_ok=True)
        for name in names:
            run = os.path.join(a.out, name)
            log = os.path.join(run, 'train.log')
            if result(log) is not None:
                print(f'{name}: done before, skipped', flush=True)
                continue
            cmd = [a.bin, 'train', '--data', a.data, '--preset', a.config, '--minutes', str(a.minutes),
                   '--out', run, '--force', '--sample-length', '0'] + sweep[name][0]
            print(f'{name}: {" ".join(cmd)}', flush=True)
            os.makedirs(run, exist_ok=True)
            with open(log, 'w', encoding='utf-8') as f:
                f.write('$ ' + ' '.join(cmd) + '\n')
                f.flush()
                rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
            r = result(log)
            if rc != 0 or r is None:
                sys.exit(f'{name}: failed (exit {rc}), see {log}')
            print(f"{name}: best {r['loss']:.4f} at step {r['best_step']} of {r['steps']}", flush=True)
    print(table(a.out, names, sweep))


if __name__ == '__main__':
    main()
