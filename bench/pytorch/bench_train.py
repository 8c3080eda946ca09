#!/usr/bin/python3
"""PyTorch side of the training-step benchmark: the same three configs as txl_bench_train,
labml's model (tests/reference/labml_xl.py), PyTorch's default initialisation, Adam, gradient
clipping to norm 1, memory carried between steps, random tokens.

    OMP_WAIT_POLICY=passive /usr/bin/python3 bench/pytorch/bench_train.py --config practical --steps 10 [--bf16]

--bf16: the forward and the loss under torch.autocast('cpu', dtype=torch.bfloat16) (PyTorch's
mixed precision on the CPU: matrix products in bf16, fp32 weights and optimizer), the backward
following the forward's types, as PyTorch's autocast recipe has it.

--trimmed: the same model with relative tables of the 2(M + T) rows a step reads (labml's P =
4096 makes Adam update 8,192 rows of each layer's tables every step, most of them never read):
the same FLOPs, a faster peer.

Last line: tokens_per_s <float>. Also prints peak_rss_mb (the process's maximum resident set).
"""
import argparse
import os
import resource
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'reference'))
from labml_xl import AutoregressiveModel, merge_memory  # noqa: E402

CONFIGS = {  # (d_model, heads, d_ff, layers, seq_len, mem_len, batch): must match bench/train_step.cpp
    'labml': (128, 4, 256, 6, 2, 32, 32),
    'practical': (128, 4, 256, 6, 64, 64, 32),
    'large': (256, 8, 1024, 6, 128, 128, 16),
}
N_VOCAB = 65


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--config', choices=CONFIGS, default='practical')
    ap.add_argument('--steps', type=int, default=10)
    ap.add_argument('--warmup', type=int, default=0)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--bf16', action='store_true', help='mixed precision: autocast to bfloat16')
    ap.add_argument('--trimmed', action='store_true', help='relative tables of the 2(M+T) rows read, not 2P')
    a = ap.parse_args()
    d, h, f, L, T, M, B = CONFIGS[a.config]
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = AutoregressiveModel(N_VOCAB, d, h, f, L, P=M + T) if a.trimmed else AutoregressiveModel(N_VOCAB, d, h, f, L)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    warmup = a.warmup or (M + T - 1) // T + 2
    mem, elapsed = [], 0.0
    for i in range(warmup + a.steps):
        x = torch.randint(0, N_VOCAB, (T, B))
        y = torch.randint(0, N_VOCAB, (T, B))
        t0 = time.perf_counter()
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=a.bf16):
            logits, new_mem = model(x, mem)
            loss = nn.functional.cross_entropy(logits.view(-1, N_VOCAB).float(), y.view(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        mem = merge_memory(mem, new_mem, M)
        if i >= warmup:
            elapsed += time.perf_counter() - t0
    print(f'pytorch {torch.__version__}, {torch.get_num_threads()} threads, config {a.config}, '
          f'{"bf16 autocast" if a.bf16 else "fp32"}{", trimmed tables" if a.trimmed else ""}')
    print(f'ms per step {elapsed / a.steps * 1e3:.2f}')
    print(f'peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f}')
    print(f'tokens_per_s {T * B * a.steps / elapsed:.2f}')


if __name__ == '__main__':
    main()
