#!/usr/bin/python3
"""Golden fixtures for txl: labml's Transformer-XL in PyTorch, float64, small config.

Run by hand (Debian's python3-torch) to regenerate `fixtures/`:

    /usr/bin/python3 tests/reference/make_fixtures.py

The modules below restate labml.ai's implementation (labml_nn/transformers/xl/ and mha.py,
feed_forward.py) line for line in plain PyTorch, so the script needs no labml install: the
same parameter names, the same `shift_right` trick, the same mask and memory handling.

Three segments run with memory (M = 0, M < T, M > T: see SEGMENT_LENGTHS). Written:
  weights_f64/<name>.npy, weights_f32/<name>.npy   the parameters (state_dict names)
  tokens_<s>.npy, targets_<s>.npy                   int64 [T, B]
  logits_<s>.npy [T, B, V], loss_<s>.npy [1]        per segment
  mem_<s>_<l>.npy [M', B, d_model]                  memory after segment s (merged, truncated)
  grad/<name>.npy                                   d(sum of segment losses)/d(parameter),
                                                    memory detached between segments
"""
import math
import os
import shutil

import numpy as np
import torch
from torch import nn

torch.set_default_dtype(torch.float64)

# Must match tests/test_golden.cpp.
D_MODEL, HEADS, D_FF, LAYERS, P = 8, 2, 12, 2, 16
N_VOCAB, BATCH, MEM_LEN = 11, 2, 5
SEGMENT_LENGTHS = [2, 4, 3]  # memory before each: M = 0, then M = 2 < T = 4, then M = 5 > T = 3


def shift_right(x):
    # labml: shifts row i right by i columns (pad a zero column, reshape, drop the excess).
    zero_pad = x.new_zeros(x.shape[0], 1, *x.shape[2:])
    x_padded = torch.cat([x, zero_pad], dim=1)
    x_padded = x_padded.view(x.shape[1] + 1, x.shape[0], *x.shape[2:])
    return x_padded[:-1].view_as(x)


class PrepareForMultiHeadAttention(nn.Module):
    def __init__(self, d_model, heads, d_k, bias):
        super().__init__()
        self.linear = nn.Linear(d_model, heads * d_k, bias=bias)
        self.heads, self.d_k = heads, d_k

    def forward(self, x):
        head_shape = x.shape[:-1]
        x = self.linear(x)
        return x.view(*head_shape, self.heads, self.d_k)


class RelativeMultiHeadAttention(nn.Module):
    def __init__(self, heads, d_model):
        super().__init__()
        self.d_k = d_model // heads
        self.heads = heads
        self.query = PrepareForMultiHeadAttention(d_model, heads, self.d_k, bias=False)
        self.key = PrepareForMultiHeadAttention(d_model, heads, self.d_k, bias=False)
        self.value = PrepareForMultiHeadAttention(d_model, heads, self.d_k, bias=True)
        self.softmax = nn.Softmax(dim=1)
        self.output = nn.Linear(d_model, d_model)
        self.scale = 1 / math.sqrt(self.d_k)
        self.P = P
        self.key_pos_embeddings = nn.Parameter(torch.zeros((self.P * 2, heads, self.d_k)))
        self.key_pos_bias = nn.Parameter(torch.zeros((self.P * 2, heads)))
        self.query_pos_bias = nn.Parameter(torch.zeros((heads, self.d_k)))

    def get_scores(self, query, key):
        key_pos_emb = self.key_pos_embeddings[self.P - key.shape[0]:self.P + query.shape[0]]
        key_pos_bias = self.key_pos_bias[self.P - key.shape[0]:self.P + query.shape[0]]
        query_pos_bias = self.query_pos_bias[None, None, :, :]
        ac = torch.einsum('ibhd,jbhd->ijbh', query + query_pos_bias, key)
        b = torch.einsum('ibhd,jhd->ijbh', query, key_pos_emb)
        d = key_pos_bias[None, :, None, :]
        bd = shift_right(b + d)
        bd = bd[:, -key.shape[0]:]
        return ac + bd

    def forward(self, *, query, key, value, mask):
        seq_len, batch_size, _ = query.shape
        mask = mask.unsqueeze(-1)  # labml's prepare_mask: [T, K, 1] -> [T, K, 1, 1]
        query, key, value = self.query(query), self.key(key), self.value(value)
        scores = self.get_scores(query, key) * self.scale
        scores = scores.masked_fill(mask == 0, float('-inf'))
        attn = self.softmax(scores)
        x = torch.einsum('ijbh,jbhd->ibhd', attn, value)
        x = x.reshape(seq_len, batch_size, -1)
        return self.output(x)


class FeedForward(nn.Module):
    def __init__(self, d_model, d_ff):
        super().__init__()
        self.layer1 = nn.Linear(d_model, d_ff)
        self.layer2 = nn.Linear(d_ff, d_model)

    def forward(self, x):
        return self.layer2(torch.relu(self.layer1(x)))


class TransformerXLLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.self_attn = RelativeMultiHeadAttention(HEADS, D_MODEL)
        self.feed_forward = FeedForward(D_MODEL, D_FF)
        self.norm_self_attn = nn.LayerNorm([D_MODEL])
        self.norm_ff = nn.LayerNorm([D_MODEL])

    def forward(self, *, x, mem, mask):
        z = self.norm_self_attn(x)
        if mem is not None:
            mem = self.norm_self_attn(mem)
            m_z = torch.cat((mem, z), dim=0)
        else:
            m_z = z
        x = x + self.self_attn(query=z, key=m_z, value=m_z, mask=mask)
        return x + self.feed_forward(self.norm_ff(x))


class TransformerXL(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([TransformerXLLayer() for _ in range(LAYERS)])
        self.norm = nn.LayerNorm([D_MODEL])

    def forward(self, x, mem, mask):
        new_mem = []
        for i, layer in enumerate(self.layers):
            new_mem.append(x.detach())
            x = layer(x=x, mem=mem[i] if mem else None, mask=mask)
        return self.norm(x), new_mem


class AutoregressiveModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.src_embed = nn.Embedding(N_VOCAB, D_MODEL)
        self.transformer = TransformerXL()
        self.generator = nn.Linear(D_MODEL, N_VOCAB)

    def forward(self, x, mem):
        m_len = len(mem[0]) if mem else 0
        t = len(x)
        mask_x = torch.tril(torch.ones(t, t)).unsqueeze(-1)  # labml's subsequent_mask
        if m_len:
            mask = torch.cat((torch.ones(t, m_len, 1), mask_x), dim=1)
        else:
            mask = mask_x
        res, mem = self.transformer(self.src_embed(x), mem, mask)
        return self.generator(res), mem


def merge_memory(old_mem, new_mem):
    # labml's experiment: concatenate and keep the last mem_len positions.
    if not old_mem:
        mem = new_mem
    else:
        mem = [torch.cat((m, x), dim=0) for m, x in zip(old_mem, new_mem)]
    return [m[-MEM_LEN:] for m in mem]


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures')
    shutil.rmtree(out, ignore_errors=True)
    for d in ('weights_f64', 'weights_f32', 'grad'):
        os.makedirs(os.path.join(out, d))

    torch.manual_seed(1234)
    model = AutoregressiveModel()
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
        mem = merge_memory(mem, new_mem)
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
