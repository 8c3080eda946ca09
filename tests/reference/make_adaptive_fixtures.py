#!/usr/bin/python3
"""Golden fixtures for txl's AdaptiveEmbedding and AdaptiveSoftmax, float64.

Run by hand (Debian's python3-torch) to regenerate `fixtures_adaptive/`:

    /usr/bin/python3 tests/reference/make_adaptive_fixtures.py

The two modules below restate, in plain PyTorch, the formulas of the Transformer-XL paper's code
(kimiyoung/transformer-xl: `AdaptiveEmbedding` in mem_transformer.py and
`ProjectedAdaptiveLogSoftmax` in utils/proj_adaptive_softmax.py), with its parameter layout:
one output table sliced by cluster when div_val = 1, per-cluster tables of width d / div_val^i
with projections [d, d_i] otherwise, the cluster scores appended to the head and tail i read from
the head's column -i, the embedding scaled by sqrt(d). Ties as the paper's `tie_weight` (the
tables) and `tie_projs` (the tails' projections).

Each case (see CASES; must match tests/blocks/test_adaptive_golden.cpp) writes into
fixtures_adaptive/<case>/:
  emb.<name>.npy, gen.<name>.npy       the parameters (tied ones only under emb.)
  tokens.npy [n], targets.npy [n]      int64
  hidden.npy [n, d]                    the softmax's input
  emb_out.npy [n, d], emb_w.npy [n, d] the embedding's output, and the weights of its loss term
  nll.npy [n], logp.npy [n, V]         per row, and the whole distribution
  grad/<emb|gen>.<name>.npy, grad/hidden.npy
                                       d(sum(nll) + sum(emb_out * emb_w))/d(each)
The parameters keep their shapes; the rest is saved flat (row-major).
"""
import os
import shutil

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

# name: (n_vocab, d, cutoffs, div_val, tie_weights, tie_projs, targets below (0: anywhere))
CASES = {
    'div1_untied': (20, 16, [5, 12], 1, False, False, 0),
    'div1_tied': (20, 16, [4, 9, 15], 1, True, False, 0),
    'div4_tied': (24, 16, [6, 14], 4, True, True, 14),  # no target in the last cluster
    'div4_untied': (20, 16, [8], 4, False, False, 0),
}
ROWS = 14


class Clusters:
    def __init__(self, n_vocab, d, cutoffs, div_val):
        self.bounds = [0] + cutoffs + [n_vocab]
        self.K = len(cutoffs)
        self.div_val = div_val
        self.widths = [d // div_val ** i for i in range(self.K + 1)]

    def ranges(self):
        return [(self.bounds[i], self.bounds[i + 1]) for i in range(self.K + 1)]


class AdaptiveInput(nn.Module):
    def __init__(self, cl, d):
        super().__init__()
        self.cl, self.d = cl, d
        self.emb_layers = nn.ParameterList()
        self.emb_projs = nn.ParameterList()
        if cl.div_val == 1:
            self.emb_layers.append(nn.Parameter(0.5 * torch.randn(cl.bounds[-1], d)))
        else:
            for i, (lo, hi) in enumerate(cl.ranges()):
                self.emb_layers.append(nn.Parameter(0.5 * torch.randn(hi - lo, cl.widths[i])))
                self.emb_projs.append(nn.Parameter(0.3 * torch.randn(d, cl.widths[i])))

    def table(self, i):
        if self.cl.div_val == 1:
            lo, hi = self.cl.ranges()[i]
            return self.emb_layers[0][lo:hi]
        return self.emb_layers[i]

    def forward(self, ids):
        out = torch.zeros(len(ids), self.d)
        for i, (lo, hi) in enumerate(self.cl.ranges()):
            rows = ((ids >= lo) & (ids < hi)).nonzero().flatten()
            if len(rows) == 0:
                continue
            e = self.table(i)[ids[rows] - lo]
            if self.cl.div_val > 1:
                e = e @ self.emb_projs[i].t()  # [m, d_i] x [d_i, d]
            out = out.index_copy(0, rows, e)
        return out * self.d ** 0.5


class AdaptiveLogSoftmax(nn.Module):
    def __init__(self, cl, d, emb=None, tie_weights=False, tie_projs=False):
        super().__init__()
        self.cl, self.d, self.emb = cl, d, emb
        self.tie_weights, self.tie_projs = tie_weights, tie_projs and cl.div_val > 1
        n_layers = 1 if cl.div_val == 1 else cl.K + 1
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for i in range(n_layers):
            rows = cl.bounds[-1] if cl.div_val == 1 else cl.bounds[i + 1] - cl.bounds[i]
            if not tie_weights:
                self.weights.append(nn.Parameter(0.5 * torch.randn(rows, cl.widths[i])))
            self.biases.append(nn.Parameter(0.3 * torch.randn(rows)))
        self.projs = nn.ParameterList()
        if cl.div_val > 1:
            for i in range(cl.K + 1):
                if i == 0 or not self.tie_projs:
                    self.projs.append(nn.Parameter(0.3 * torch.randn(d, cl.widths[i])))
        self.cluster_weight = nn.Parameter(0.5 * torch.randn(cl.K, d))
        self.cluster_bias = nn.Parameter(0.3 * torch.randn(cl.K))

    def weight(self, i):
        if self.tie_weights:
            return self.emb.table(i)
        if self.cl.div_val == 1:
            lo, hi = self.cl.ranges()[i]
            return self.weights[0][lo:hi]
        return self.weights[i]

    def bias(self, i):
        if self.cl.div_val == 1:
            lo, hi = self.cl.ranges()[i]
            return self.biases[0][lo:hi]
        return self.biases[i]

    def proj(self, i):
        if self.cl.div_val == 1:
            return None
        if i > 0 and self.tie_projs:
            return self.emb.emb_projs[i]
        return self.projs[i]

    def scores(self, h, i):
        p = self.proj(i)
        if p is not None:
            h = h @ p  # [n, d] x [d, d_i]
        return F.linear(h, self.weight(i), self.bias(i))

    def head_logprob(self, h):
        # shortlist scores, then one per tail cluster (row K - i of cluster_weight for tail i)
        z = torch.cat([self.scores(h, 0), F.linear(h if self.proj(0) is None else h @ self.proj(0),
                                                     self.cluster_weight, self.cluster_bias)], dim=1)
        return F.log_softmax(z, dim=1)

    def log_probs(self, h):
        head = self.head_logprob(h)
        parts = [head[:, :self.cl.bounds[1]]]
        for i in range(1, self.cl.K + 1):
            parts.append(head[:, -i:head.shape[1] - i + 1] + F.log_softmax(self.scores(h, i), dim=1))
        return torch.cat(parts, dim=1)

    def nll(self, h, y):
        head = self.head_logprob(h)
        out = torch.zeros(len(y))
        for i, (lo, hi) in enumerate(self.cl.ranges()):
            rows = ((y >= lo) & (y < hi)).nonzero().flatten()
            if len(rows) == 0:
                continue
            if i == 0:
                lp = head[rows, y[rows]]
            else:
                tail = F.log_softmax(self.scores(h[rows], i), dim=1)
                lp = head[rows, head.shape[1] - i] + tail[torch.arange(len(rows)), y[rows] - lo]
            out = out.index_copy(0, rows, -lp)
        return out


def named(module, prefix):
    """Parameters under txl's names (emb_layers.{i}.weight, out_layers.{i}.weight, ...)."""
    out = {}
    if isinstance(module, AdaptiveInput):
        for i, p in enumerate(module.emb_layers):
            out[f'{prefix}emb_layers.{i}.weight'] = p
        for i, p in enumerate(module.emb_projs):
            out[f'{prefix}emb_projs.{i}'] = p
    else:
        for i, p in enumerate(module.weights):
            out[f'{prefix}out_layers.{i}.weight'] = p
        for i, p in enumerate(module.biases):
            out[f'{prefix}out_layers.{i}.bias'] = p
        for j, p in enumerate(module.projs):  # all K + 1, or only the head's when the tails' are tied
            out[f'{prefix}out_projs.{j}'] = p
        out[f'{prefix}cluster_weight'] = module.cluster_weight
        out[f'{prefix}cluster_bias'] = module.cluster_bias
    return out


def make(out, n_vocab, d, cutoffs, div_val, tie_weights, tie_projs, below):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, 'grad'))
    torch.manual_seed(4321)
    cl = Clusters(n_vocab, d, cutoffs, div_val)
    emb = AdaptiveInput(cl, d)
    gen = AdaptiveLogSoftmax(cl, d, emb, tie_weights, tie_projs)
    tokens = torch.randint(0, n_vocab, (ROWS,))
    targets = torch.randint(0, below or n_vocab, (ROWS,))
    hidden = torch.randn(ROWS, d, requires_grad=True)
    emb_w = torch.randn(ROWS, d)

    emb_out = emb(tokens)
    nll = gen.nll(hidden, targets)
    (nll.sum() + (emb_out * emb_w).sum()).backward()
    logp = gen.log_probs(hidden)

    params = {**named(emb, 'emb.'), **named(gen, 'gen.')}
    for name, p in params.items():
        np.save(os.path.join(out, name + '.npy'), p.detach().numpy())
        grad = p.grad if p.grad is not None else torch.zeros_like(p)  # a cluster no row reaches
        np.save(os.path.join(out, 'grad', name + '.npy'), grad.numpy().reshape(-1))
    for name, t in (('tokens', tokens), ('targets', targets), ('hidden', hidden), ('emb_out', emb_out),
                    ('emb_w', emb_w), ('nll', nll), ('logp', logp)):
        np.save(os.path.join(out, name + '.npy'), t.detach().numpy().reshape(-1))
    np.save(os.path.join(out, 'grad', 'hidden.npy'), hidden.grad.numpy().reshape(-1))
    print(f'{os.path.basename(out)}: nll sum {nll.sum().item():.12f}, {len(params)} tensors')


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    for name, case in CASES.items():
        make(os.path.join(here, 'fixtures_adaptive', name), *case)


if __name__ == '__main__':
    main()
