#!/usr/bin/python3
"""PyTorch side of the Tiny Shakespeare comparison: the same model (labml's Transformer-XL,
tests/reference/labml_xl.py), the same data pipeline, schedule, clipping and validation as
`txl_shakespeare train --config practical|long|labml`, for a fixed number of minutes: the practical
preset's cosine schedule is fitted to the minutes the same way (after warm-up, one timed
validation fixes the last step), dropout acts in the same places, and `--weight-decay` is AdamW
on the same tensors. The same overrides as txl's (--lr, --dropout, --schedule, ...) apply.

    OMP_WAIT_POLICY=passive /usr/bin/python3 bench/pytorch/train_shakespeare.py \
        --data tiny_shakespeare.txt --config practical --minutes 10

Last line: valid_loss <float> valid_acc <float> of the best validation, as txl's. Differences from txl: PyTorch's own Adam puts
eps after the bias correction of v (labml's "optimized update" puts it before); the relative
tables and all other initial values are drawn by PyTorch's generator, not txl's.
"""
import argparse
import math
import os
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'tests', 'reference'))
from labml_xl import AutoregressiveModel, merge_memory  # noqa: E402

SIZES = {  # txl_shakespeare's --size: (d_model, heads, d_ff, layers)
    'base': (128, 4, 256, 6), 'ff512': (128, 4, 512, 6), 'deep': (128, 4, 256, 8), 'wide': (192, 6, 384, 6),
    'narrow': (96, 3, 192, 6),
}
CONFIGS = {  # must match examples/shakespeare/main.cpp
    'labml': dict(size='base', encoding='learned', seq_len=2, mem_len=32, batch=32, schedule='noam', lr=1.0, min_lr=0.0,
                  warmup=2000, dropout=0.0, weight_decay=0.0, valid_every=2000, log_every=100),
    'practical': dict(size='ff512', encoding='learned', seq_len=64, mem_len=64, batch=16, schedule='cosine', lr=3e-3,
                      min_lr=1e-4, warmup=200, dropout=0.05, weight_decay=0.0, valid_every=500, log_every=50),
}
# as txl's: the one-hour preset, the practical one's size at batch 32 with dropout 0.1
# (before the one-hour sweep it had labml's shape: --config long --size base)
CONFIGS['long'] = dict(CONFIGS['practical'], batch=32, dropout=0.1)


def batchify(ids, batch):
    n = len(ids) // batch
    return ids[:n * batch].view(batch, n).t().contiguous()  # [n, B]


def batches(data, seq_len):
    for i in range(0, data.shape[0] - 1, seq_len):
        t = min(seq_len, data.shape[0] - 1 - i)
        yield data[i:i + t], data[i + 1:i + 1 + t]


@torch.no_grad()
def evaluate(model, data, seq_len, mem_len, n_vocab):
    mem, loss_sum, hits, n = [], 0.0, 0, 0
    for x, y in batches(data, seq_len):
        logits, new_mem = model(x, mem)
        mem = merge_memory(mem, new_mem, mem_len)
        loss_sum += nn.functional.cross_entropy(logits.view(-1, n_vocab), y.reshape(-1), reduction='sum').item()
        hits += (logits.argmax(-1) == y).sum().item()
        n += y.numel()
    return loss_sum / n, hits / n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--config', choices=CONFIGS, default='practical')
    ap.add_argument('--minutes', type=float, default=10)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=1)
    # Overrides of the config, as txl_shakespeare train takes them.
    for opt, kind in (('--encoding', str), ('--schedule', str), ('--lr', float), ('--min-lr', float), ('--warmup', int),
                      ('--dropout', float), ('--weight-decay', float), ('--batch', int), ('--seq-len', int),
                      ('--mem-len', int), ('--size', str)):
        ap.add_argument(opt, type=kind, default=None)
    a = ap.parse_args()
    c = dict(CONFIGS[a.config])
    for k in ('encoding', 'schedule', 'lr', 'min_lr', 'warmup', 'dropout', 'weight_decay', 'batch', 'seq_len', 'mem_len',
              'size'):
        if getattr(a, k) is not None:
            c[k] = getattr(a, k)
    if c['size'] not in SIZES:
        sys.exit(f"unknown size {c['size']!r}; known: {', '.join(SIZES)}")
    D_MODEL, HEADS, D_FF, LAYERS = SIZES[c['size']]
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    text = open(a.data, encoding='utf-8').read()
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    ids = torch.tensor([stoi[ch] for ch in text], dtype=torch.long)
    split = int(len(ids) * 0.9)
    train, valid = batchify(ids[:split], c['batch']), batchify(ids[split:], c['batch'])
    model = AutoregressiveModel(len(chars), D_MODEL, HEADS, D_FF, LAYERS, dropout=c['dropout'],
                                attention=c['encoding'])
    # AdamW's decay on the same tensors as txl's (not biases, not LayerNorm); 0: plain Adam.
    decay = [p for n, p in model.named_parameters() if not n.endswith('bias') and 'norm' not in n]
    rest = [p for n, p in model.named_parameters() if n.endswith('bias') or 'norm' in n]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': c['weight_decay']},
                             {'params': rest, 'weight_decay': 0.0}], lr=1.0, betas=(0.9, 0.999), eps=1e-8)
    total = [0]  # cosine: the step where the decay ends, measured after warm-up (as txl does)

    def rate(t):  # t = 1, 2, ...
        if c['schedule'] == 'noam':
            return c['lr'] * D_MODEL ** -0.5 * min(t ** -0.5, t * c['warmup'] ** -1.5)
        if c['warmup'] and t < c['warmup']:
            return c['lr'] * t / c['warmup']
        if total[0] == 0:
            return c['lr']
        p = min(1.0, (t - c['warmup']) / max(total[0] - c['warmup'], 1))
        return c['min_lr'] + 0.5 * (c['lr'] - c['min_lr']) * (1 + math.cos(math.pi * p))

    print(f'pytorch {torch.__version__}, {torch.get_num_threads()} threads, config {a.config} {c}, '
          f'{sum(p.numel() for p in model.parameters())} parameters', flush=True)
    t0 = time.time()
    step, mem, it, tokens = 0, [], None, 0
    v_loss = v_acc = float('nan')
    best = (float('inf'), float('nan'), 0)
    while True:
        if it is None:
            it, mem = batches(train, c['seq_len']), []
        try:
            x, y = next(it)
        except StopIteration:
            it = None
            continue
        model.train()
        logits, new_mem = model(x, mem)
        loss = nn.functional.cross_entropy(logits.view(-1, len(chars)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        for g in opt.param_groups:
            g['lr'] = rate(step + 1)
        opt.step()
        mem = merge_memory(mem, [m.detach() for m in new_mem], c['mem_len'])
        step += 1
        tokens += y.numel()
        el = time.time() - t0
        calibrate = c['schedule'] == 'cosine' and total[0] == 0 and step >= max(c['warmup'], 20)
        last = el >= a.minutes * 60 or (total[0] and step >= total[0])
        if step % c['valid_every'] == 0 or last or calibrate:
            model.eval()
            v0 = time.time()
            v_loss, v_acc = evaluate(model, valid, c['seq_len'], c['mem_len'], len(chars))
            v_time = time.time() - v0
            if v_loss < best[0]:
                best = (v_loss, v_acc, step)
            if calibrate:
                per_step, left = el / step, a.minutes * 60 - (time.time() - t0)
                total[0] = step + max(1, int(0.98 * left / (per_step + v_time / c['valid_every'])))
                print(f'schedule: the cosine decay ends at step {total[0]}', flush=True)
        if step % c['log_every'] == 0 or last:
            el = time.time() - t0
            print(f'step {step} | lr {rate(step):.2e} | loss {loss.item():.3f} | valid {v_loss:.3f} | '
                  f'{tokens / el:.0f} tok/s | {el:.0f}s', flush=True)
        if last:
            break
    print(f'trained {step} steps ({tokens} tokens) in {time.time() - t0:.0f} s; best: step {best[2]}, '
          f'validation loss {best[0]:.4f} nats/char = {best[0] / math.log(2):.4f} bits/char')
    print(f'valid_loss {best[0]:.4f} valid_acc {best[1]:.4f}')


if __name__ == '__main__':
    main()
