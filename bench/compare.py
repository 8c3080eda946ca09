#!/usr/bin/python3
"""One invocation, both sides: txl against PyTorch 1.13 (Debian) on the same machine, in the same
run, alternating, several repetitions each, medians reported.

    /usr/bin/python3 bench/compare.py [--build build] [--reps 3]
    /usr/bin/python3 bench/compare.py --busy [--configs practical]      # beside a busy core

Prints Markdown tables: training tokens/s per config (with the ratio, txl's GFLOP/s and its
fraction of the measured fp32 FMA ceiling, peak memory of both), sampling characters/s with
memory, and the evaluation-speed table (memory reuse against recomputing the window).
PyTorch runs with two threads and OMP_WAIT_POLICY=passive, its best setting here.

`--precision fp32,bf16` (the default where txl has a native bf16 kernel): each config in both
precisions, all four runs interleaved: txl's `--precision bf16` beside PyTorch's
`torch.autocast('cpu', dtype=torch.bfloat16)`, and each side's bf16 / fp32 speed-up.
`--peer trimmed`: PyTorch's model with relative tables of the rows a step reads (2(M+T), not
labml's 2P = 8,192: Adam then skips the rows no step reads), the faster peer.

OpenBLAS kernels: both sides always see the same OpenBLAS settings. The training table is
measured twice: with the environment as it is (some machines set OPENBLAS_CORETYPE, e.g. to
Haswell's AVX2 kernel on an AVX-512 CPU, because older OpenBLAS builds misbehave there), and
with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset for those commands alone, so that OpenBLAS
picks its own kernel for the CPU (`--kernels env` measures only the first).

`--busy`: the training table on a machine that is doing something else. A busy loop (a
second process spinning, pinned to the last CPU, as another program or a second training run
would) runs beside every measurement; txl and PyTorch are each measured with two threads and
with one, interleaved. Also prints which GEMM kernel txl chose (TXL_GEMM forces one).
"""
import argparse
import contextlib
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = {'labml': (60, 30), 'practical': (10, 6), 'large': (4, 3)}  # (txl steps, PyTorch steps)


def run(cmd, env=None):
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f'failed: {" ".join(cmd)}\n{out.stdout}\n{out.stderr}')
    return out.stdout


def value(text, key):
    m = re.findall(rf'^{key} ([0-9.eE+-]+)', text, re.M)
    if not m:
        sys.exit(f'no "{key}" in:\n{text}')
    return float(m[-1])


@contextlib.contextmanager
def busy_core():
    """A process spinning on the last CPU for as long as the block runs."""
    cpu = max(os.sched_getaffinity(0))
    spin = subprocess.Popen([sys.executable, '-c', 'while True: pass'],
                            preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    try:
        yield cpu
    finally:
        spin.kill()
        spin.wait()


def busy_table(a, b):
    py = '/usr/bin/python3'
    env = dict(os.environ)
    core = re.search(r'GEMM kernel (\w+)', run([f'{b}/txl_bench_train', '--config', 'labml', '--steps', '1'], env))
    print(f'### Training beside a busy core ({os.cpu_count()} CPUs, one of them running a busy loop; '
          f'txl GEMM kernel {core.group(1) if core else "?"})\n')
    print('| config | txl 2 threads | txl 1 thread | PyTorch 2 threads | PyTorch 1 thread | txl / PyTorch (best of each) |')
    print('|---|---:|---:|---:|---:|---:|')
    for cfg in a.configs.split(','):
        runs = {k: [] for k in ('t2', 't1', 'p2', 'p1')}
        with busy_core():
            for _ in range(a.reps):
                for threads, key in ((2, 't2'), (1, 't1')):
                    out = run([f'{b}/txl_bench_train', '--config', cfg, '--steps', str(STEPS[cfg][0])],
                              dict(env, TXL_NUM_THREADS=str(threads)))
                    runs[key].append(value(out, 'tokens_per_s'))
                for threads, key in ((2, 'p2'), (1, 'p1')):
                    out = run([py, f'{HERE}/pytorch/bench_train.py', '--config', cfg, '--steps',
                               str(STEPS[cfg][1]), '--threads', str(threads)], dict(env, OMP_WAIT_POLICY='passive'))
                    runs[key].append(value(out, 'tokens_per_s'))
        m = {k: statistics.median(v) for k, v in runs.items()}
        best_t, best_p = max(m['t2'], m['t1']), max(m['p2'], m['p1'])
        print(f"| {cfg} | {m['t2']:,.0f} | {m['t1']:,.0f} | {m['p2']:,.0f} | {m['p1']:,.0f} | "
              f"{best_t / best_p:.1f}x (2 threads: {m['t2'] / best_p:.1f}x) |", flush=True)
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', default=os.path.join(HERE, '..', 'build'))
    ap.add_argument('--reps', type=int, default=3)
    ap.add_argument('--configs', default='labml,practical,large')
    ap.add_argument('--kernels', choices=['both', 'env'], default='both')
    ap.add_argument('--busy', action='store_true', help='only the training table, beside a busy core')
    ap.add_argument('--training-only', action='store_true', help='skip the sampling and evaluation tables')
    ap.add_argument('--peer', choices=['labml', 'trimmed'], default='labml',
                    help="PyTorch's model: labml's as it is, or with tables of the rows read")
    ap.add_argument('--precision', default=None,
                    help='fp32, bf16 or fp32,bf16 (default: both where txl has a native bf16 kernel)')
    a = ap.parse_args()
    b = os.path.join(a.build, 'bench')
    if a.busy:
        busy_table(a, b)
        return
    py_env = dict(os.environ, OMP_WAIT_POLICY='passive')
    py = '/usr/bin/python3'

    settings = [('the environment as it is', dict(os.environ))]
    if a.kernels == 'both' and any(k in os.environ for k in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')):
        own = {k: v for k, v in os.environ.items() if k not in ('OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE')}
        settings.append(("OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (OpenBLAS's own choice)", own))

    for label, env in settings:
        ceiling = run([f'{b}/txl_bench_ceiling'], env)
        fma, sgemm = value(ceiling, 'fma_gflops'), value(ceiling, 'sgemm_gflops')
        own_gemm, own_bf16 = value(ceiling, 'txl_gemm_gflops'), value(ceiling, 'txl_gemm_bf16_gflops')
        bf16_kernel = re.search(r'bf16 kernel (\w+)', ceiling).group(1)
        precisions = (a.precision or ('fp32,bf16' if own_bf16 > 0 else 'fp32')).split(',')
        core = re.search(r'OpenBLAS kernel ([\w-]+)',
                         run([f'{b}/txl_bench_train', '--config', 'labml', '--steps', '1'], env))
        print(f'### Training, {label}; PyTorch peer: {a.peer}\n')
        print(f'machine: {os.cpu_count()} cores, OpenBLAS kernel {core.group(1) if core else "?"}'
              f' (OPENBLAS_CORETYPE={env.get("OPENBLAS_CORETYPE", "unset")}), '
              f'fp32 ceiling: FMA loop {fma:.0f} GFLOP/s; 2048^3 sgemm: OpenBLAS {sgemm:.0f}, '
              f'txl::gemm {own_gemm:.0f} GFLOP/s'
              + (f'; txl bf16 kernel {bf16_kernel}, its 2048^3 product {own_bf16:.0f} GFLOP/s' if own_bf16 else '')
              + '\n')
        print('| config | precision | txl tokens/s | PyTorch tokens/s | ratio | txl GFLOP/s | of FMA ceiling '
              '| bf16 / fp32 txl, PyTorch | peak MB txl / PyTorch |')
        print('|---|---|---:|---:|---:|---:|---:|---:|---:|')
        p_env = dict(env, OMP_WAIT_POLICY='passive')
        for cfg in a.configs.split(','):
            runs = {p: {k: [] for k in ('t_tok', 'p_tok', 't_gf', 't_mem', 'p_mem')} for p in precisions}
            for _ in range(a.reps):
                for prec in precisions:  # interleaved: every precision of both sides in each round
                    r = runs[prec]
                    out = run([f'{b}/txl_bench_train', '--config', cfg, '--steps', str(STEPS[cfg][0]),
                               '--precision', prec], env)
                    r['t_tok'].append(value(out, 'tokens_per_s'))
                    r['t_gf'].append(value(out, 'GFLOP/s') if 'GFLOP/s' in out else 0)
                    r['t_mem'].append(value(out, 'peak_rss_mb'))
                    out = run([py, f'{HERE}/pytorch/bench_train.py', '--config', cfg, '--steps', str(STEPS[cfg][1])]
                              + (['--bf16'] if prec == 'bf16' else [])
                              + (['--trimmed'] if a.peer == 'trimmed' else []), p_env)
                    r['p_tok'].append(value(out, 'tokens_per_s'))
                    r['p_mem'].append(value(out, 'peak_rss_mb'))
            med = {p: {k: statistics.median(v) for k, v in r.items()} for p, r in runs.items()}
            for prec in precisions:
                m = med[prec]
                gain = ''
                if prec == 'bf16' and 'fp32' in med:
                    gain = (f"{m['t_tok'] / med['fp32']['t_tok']:.2f}x, "
                            f"{m['p_tok'] / med['fp32']['p_tok']:.2f}x")
                print(f"| {cfg} | {prec} | {m['t_tok']:,.0f} | {m['p_tok']:,.0f} | {m['t_tok'] / m['p_tok']:.1f}x | "
                      f"{m['t_gf']:.0f} | {m['t_gf'] / fma:.0%} | {gain} | {m['t_mem']:.0f} / {m['p_mem']:.0f} |",
                      flush=True)
        print()

    if a.training_only:
        return
    print('### Sampling and evaluation, the environment as it is\n')

    t_s, p_s = [], []
    for _ in range(a.reps):
        t_s.append(value(run([f'{b}/txl_bench_sample']), 'chars_per_s'))
        p_s.append(value(run([py, f'{HERE}/pytorch/bench_sample.py'], py_env), 'chars_per_s'))
    ts, ps = statistics.median(t_s), statistics.median(p_s)
    print(f'\n| sampling with memory (mem_len 64, practical model) | txl chars/s | PyTorch chars/s | ratio |')
    print(f'|---|---:|---:|---:|\n| one character per step | {ts:,.0f} | {ps:,.0f} | {ts / ps:.1f}x |\n')
    print(run([f'{b}/txl_bench_eval_memory']))


if __name__ == '__main__':
    main()
