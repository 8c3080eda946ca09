#!/usr/bin/python3
"""PyTorch side of the sampling benchmark: labml's model (practical config, random weights),
a one-character prompt, then one character per step with the memory carried (mem_len 64),
greedy, as labml samples. Last line: chars_per_s <float>.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'reference'))
from labml_xl import AutoregressiveModel, merge_memory  # noqa: E402


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--chars', type=int, default=500)
    ap.add_argument('--mem-len', type=int, default=64)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    model = AutoregressiveModel(65, 128, 4, 256, 6).eval()
    x = torch.zeros(1, 1, dtype=torch.long)
    mem = []
    for _ in range(a.mem_len):  # fill the memory first: the steady state is what is timed
        logits, new_mem = model(x, mem)
        mem = merge_memory(mem, new_mem, a.mem_len)
    t0 = time.perf_counter()
    for _ in range(a.chars):
        logits, new_mem = model(x, mem)
        mem = merge_memory(mem, new_mem, a.mem_len)
        x = logits[-1:, :, :].argmax(-1)
    el = time.perf_counter() - t0
    print(f'chars_per_s {a.chars / el:.2f}')


if __name__ == '__main__':
    main()
