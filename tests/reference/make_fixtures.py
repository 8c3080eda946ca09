#!/usr/bin/python3
"""Golden fixtures for txl: labml's Transformer-XL in PyTorch, float64, small config.

Run by hand (Debian's python3-torch) to regenerate `fixtures/`:

    /usr/bin/python3 tests/reference/make_fixtures.py [SET ...]

The model is labml.ai's implementation restated in plain PyTorch (labml_xl.py beside this
file), so the script needs no labml install.

Three sets, each three segments run with memory (M = 0, M < T, M > T: see SETS):
  fixtures/       a tiny model, segments of 2-4 positions;
  fixtures_long/  a wider model (d_model 64, d_k 32) with segments of 9-17 positions, so that
                  in float the attention's per-(b, h) products (T rows) run through txl's own
                  GEMM kernel, which takes products of 8 rows or more: partial tiles and
                  panels, and head blocks one panel wide (d_k = 32) read in place;
  fixtures_sinusoidal/  the tiny sizes with the paper's own attention (PaperRelativeAttention:
                  sinusoidal distances projected by r_net, biases r_w_bias and r_r_bias).
Written into each:
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
SETS = {
    'fixtures': dict(D_MODEL=8, HEADS=2, D_FF=12, LAYERS=2, P=16, N_VOCAB=11, BATCH=2, MEM_LEN=5,
                     # memory before each: M = 0, then M = 2 < T = 4, then M = 5 > T = 3
                     SEGMENT_LENGTHS=[2, 4, 3]),
    'fixtures_long': dict(D_MODEL=64, HEADS=2, D_FF=96, LAYERS=2, P=64, N_VOCAB=11, BATCH=3,
                          MEM_LEN=20,
                          # M = 0, then M = 9 < T = 17, then M = 20 > T = 10
                          SEGMENT_LENGTHS=[9, 17, 10]),
    # The paper's attention (sinusoidal distances, u and v), the tiny sizes.
    'fixtures_sinusoidal': dict(D_MODEL=8, HEADS=2, D_FF=12, LAYERS=2, P=16, N_VOCAB=11, BATCH=2, MEM_LEN=5,
                                SEGMENT_LENGTHS=[2, 4, 3], ATTENTION='sinusoidal'),
}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for name in sys.argv[1:] or SETS:  # e.g. `make_fixtures.py fixtures_sinusoidal` for one set
        make(os.path.join(here, name), **SETS[name])


def make(out, D_MODEL, HEADS, D_FF, LAYERS, P, N_VOCAB, BATCH, MEM_LEN, SEGMENT_LENGTHS, ATTENTION='learned'):
    shutil.rmtree(out, ignore_errors=True)
    for d in ('weights_f64', 'weights_f32', 'grad'):
        os.makedirs(os.path.join(out, d))

    torch.manual_seed(1234)
    model = AutoregressiveModel(N_VOCAB, D_MODEL, HEADS, D_FF, LAYERS, P, attention=ATTENTION)
    with torch.no_grad():  # non-zero relative parameters and LayerNorm affine, so all are tested
        for name, p in model.named_parameters():
            if 'pos_' in name or name.endswith(('r_w_bias', 'r_r_bias')):
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
