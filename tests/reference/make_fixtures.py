#!/usr/bin/python3
"""Golden fixtures for txl: labml's Transformer-XL in PyTorch, float64, small config.

Run by hand (Debian's python3-torch) to regenerate `fixtures/`:

    /usr/bin/python3 tests/reference/make_fixtures.py

The model is labml.ai's implementation restated in plain PyTorch (labml_xl.py beside this
file), so the script needs no labml install.

Three segments run with memory (M = 0, M < T, M > T: see SEGMENT_LENGTHS). Written:
  weights_f64/<name>.npy, weights_f32/<name>.npy   the parameters (state_dict names)
  tokens_<s>.npy, targets_<s>.npy                   int64 [T, B]
  logits_<s>.npy [T, B, V], loss_<s>.npy [1]        per segment
  mem_<s>_<l>.npy [M', B, d_model]                  memory after segment s (merged, truncated)
  grad/<name>.npy                                   d(sum of segment losses)/d(parameter),
                                                    memory detached between segments
"""
import os
import sys
import shutil

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labml_xl import AutoregressiveModel, merge_memory  # noqa: E402

torch.set_default_dtype(torch.float64)

# Must match tests/test_golden.cpp.
D_MODEL, HEADS, D_FF, LAYERS, P = 8, 2, 12, 2, 16
N_VOCAB, BATCH, MEM_LEN = 11, 2, 5
SEGMENT_LENGTHS = [2, 4, 3]  # memory before each: M = 0, then M = 2 < T = 4, then M = 5 > T = 3


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')
    shutil.rmtree(out, ignore_errors=True)
    for d in ('weights_f64', 'weights_f32', 'grad'):
        os.makedirs(os.path.join(out, d))

    torch.manual_seed(1234)
    model = AutoregressiveModel(N_VOCAB, D_MODEL, HEADS, D_FF, LAYERS, P)
    with torch.no_grad():  # non-zero relative parameters and LayerNorm affine, so all are tested
        for name, p in model.named_parameters():
            if 'pos_' in name:
                p.copy_(0.5 * torch.randn_like(p))
            elif 'norm' in name and name.endswith('weight'):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif 'norm' in name and name.endswith('bias'):
                p.copy_(0.2 * torch.randn_like(p))
    for name, p in model.state_dict().items():
        np.save(os.path.join(out, 'weights_f64', name + '.npy'), p.numpy().astype(np.float64))
        np.save(os.path.join(out, 'weights_f32', name + '.npy'), p.numpy().astype(np.float32))

    text = torch.randint(0, N_VOCAB, (sum(SEGMENT_LENGTHS) + 1, BATCH))
    mem = []
    total = 0
    start = 0
    for s, t in enumerate(SEGMENT_LENGTHS):
        x = text[start:start + t]
        y = text[start + 1:start + t + 1]
        start += t
        m_before = len(mem[0]) if mem else 0
        logits, new_mem = model(x, mem)
        loss = nn.functional.cross_entropy(logits.reshape(-1, N_VOCAB), y.reshape(-1))
        total = total + loss
        mem = merge_memory(mem, new_mem, MEM_LEN)
        np.save(os.path.join(out, f'tokens_{s}.npy'), x.numpy().astype(np.int64))
        np.save(os.path.join(out, f'targets_{s}.npy'), y.numpy().astype(np.int64))
        np.save(os.path.join(out, f'logits_{s}.npy'), logits.detach().numpy())
        np.save(os.path.join(out, f'loss_{s}.npy'), np.array([loss.item()]))
        for l, m in enumerate(mem):
            np.save(os.path.join(out, f'mem_{s}_{l}.npy'), m.numpy())
        print(f'segment {s}: T = {t}, M = {m_before} -> {len(mem[0])}, loss {loss.item():.12f}')
    total.backward()
    for name, p in model.named_parameters():
        np.save(os.path.join(out, 'grad', name + '.npy'), p.grad.numpy())
    print('wrote', out)


if __name__ == '__main__':
    main()
