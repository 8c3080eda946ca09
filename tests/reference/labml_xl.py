"""labml.ai's Transformer-XL restated in plain PyTorch (no labml install needed).

Line for line the modules of labml_nn/transformers/xl/ (relative_mha.py, __init__.py) with
mha.py and feed_forward.py: the same parameter names (state_dict keys), the same `shift_right`
trick, mask and memory handling. Used by tests/reference/make_fixtures.py (golden fixtures)
and by bench/pytorch/ (the PyTorch side of every comparison).
"""
import math

import torch
from torch import nn


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
    def __init__(self, heads, d_model, P, dropout=0.0):
        super().__init__()
        self.d_k = d_model // heads
        self.heads = heads
        self.query = PrepareForMultiHeadAttention(d_model, heads, self.d_k, bias=False)
        self.key = PrepareForMultiHeadAttention(d_model, heads, self.d_k, bias=False)
        self.value = PrepareForMultiHeadAttention(d_model, heads, self.d_k, bias=True)
        self.softmax = nn.Softmax(dim=1)
        self.output = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
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
        attn = self.dropout(self.softmax(scores))
        x = torch.einsum('ijbh,jbhd->ibhd', attn, value)
        x = x.reshape(seq_len, batch_size, -1)
        return self.output(x)


def rel_shift(x):
    # The paper's code (kimiyoung/transformer-xl): row i of [T, K, ...] read from column
    # T - 1 - i on (pad a zero column on the left, reshape to [K + 1, T], drop the first row).
    zero_pad = x.new_zeros(x.shape[0], 1, *x.shape[2:])
    x_padded = torch.cat([zero_pad, x], dim=1)
    x_padded = x_padded.view(x.shape[1] + 1, x.shape[0], *x.shape[2:])
    return x_padded[1:].view_as(x)


class PaperRelativeAttention(nn.Module):
    """The paper's relative attention, eq. (4) of Dai et al. (2019), as its code computes it
    (RelPartialLearnableMultiHeadAttn): fixed sinusoidal encodings of the distances K-1..0
    (sines, then cosines), projected by r_net; biases r_w_bias (u) and r_r_bias (v) per layer;
    qkv_net, r_net and o_net without bias. Same call signature as RelativeMultiHeadAttention."""

    def __init__(self, heads, d_model, dropout=0.0, clamp_len=0):
        super().__init__()
        self.d_k = d_model // heads
        self.heads = heads
        self.qkv_net = nn.Linear(d_model, 3 * d_model, bias=False)
        self.r_net = nn.Linear(d_model, d_model, bias=False)
        self.o_net = nn.Linear(d_model, d_model, bias=False)
        self.r_w_bias = nn.Parameter(torch.zeros((heads, self.d_k)))
        self.r_r_bias = nn.Parameter(torch.zeros((heads, self.d_k)))
        self.dropout = nn.Dropout(dropout)
        self.scale = 1 / math.sqrt(self.d_k)
        self.clamp_len = clamp_len
        self.register_buffer('inv_freq', 1 / (10000 ** (torch.arange(0.0, d_model, 2.0) / d_model)), persistent=False)

    def forward(self, *, query, key, value, mask):
        seq_len, batch_size, _ = query.shape
        k_len = key.shape[0]
        q, k, v = torch.chunk(self.qkv_net(key), 3, dim=-1)
        q = q[-seq_len:].reshape(seq_len, batch_size, self.heads, self.d_k)
        k = k.reshape(k_len, batch_size, self.heads, self.d_k)
        v = v.reshape(k_len, batch_size, self.heads, self.d_k)
        pos_seq = torch.arange(k_len - 1, -1, -1.0, dtype=self.inv_freq.dtype)
        if self.clamp_len > 0:
            pos_seq = pos_seq.clamp(max=self.clamp_len)
        sinusoid = torch.outer(pos_seq, self.inv_freq)
        r = self.r_net(torch.cat([sinusoid.sin(), sinusoid.cos()], dim=-1)).view(k_len, self.heads, self.d_k)
        ac = torch.einsum('ibhd,jbhd->ijbh', q + self.r_w_bias, k)
        bd = rel_shift(torch.einsum('ibhd,jhd->ijbh', q + self.r_r_bias, r))
        scores = (ac + bd) * self.scale
        scores = scores.masked_fill(mask.unsqueeze(-1) == 0, float('-inf'))
        attn = self.dropout(torch.softmax(scores, dim=1))
        x = torch.einsum('ijbh,jbhd->ibhd', attn, v).reshape(seq_len, batch_size, -1)
        return self.o_net(x)


class FeedForward(nn.Module):
    def __init__(self, d_model, d_ff, dropout=0.0):
        super().__init__()
        self.layer1 = nn.Linear(d_model, d_ff)
        self.layer2 = nn.Linear(d_ff, d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.layer2(self.dropout(torch.relu(self.layer1(x))))


class TransformerXLLayer(nn.Module):
    def __init__(self, d_model, heads, d_ff, P, dropout=0.0, attention='learned'):
        super().__init__()
        if attention == 'learned':
            self.self_attn = RelativeMultiHeadAttention(heads, d_model, P, dropout)
        else:
            self.self_attn = PaperRelativeAttention(heads, d_model, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.norm_self_attn = nn.LayerNorm([d_model])
        self.norm_ff = nn.LayerNorm([d_model])
        self.dropout = nn.Dropout(dropout)

    def forward(self, *, x, mem, mask):
        z = self.norm_self_attn(x)
        if mem is not None:
            mem = self.norm_self_attn(mem)
            m_z = torch.cat((mem, z), dim=0)
        else:
            m_z = z
        x = x + self.dropout(self.self_attn(query=z, key=m_z, value=m_z, mask=mask))
        return x + self.dropout(self.feed_forward(self.norm_ff(x)))


class TransformerXL(nn.Module):
    def __init__(self, d_model, heads, d_ff, n_layers, P, dropout=0.0, attention='learned'):
        super().__init__()
        # Independent layers (labml clones one layer, so its layers start with identical weights: an
        # accident of its code, not part of the model).
        self.layers = nn.ModuleList([TransformerXLLayer(d_model, heads, d_ff, P, dropout, attention)
                                     for _ in range(n_layers)])
        self.norm = nn.LayerNorm([d_model])

    def forward(self, x, mem, mask):
        new_mem = []
        for i, layer in enumerate(self.layers):
            new_mem.append(x.detach())
            x = layer(x=x, mem=mem[i] if mem else None, mask=mask)
        return self.norm(x), new_mem


class AutoregressiveModel(nn.Module):
    def __init__(self, n_vocab, d_model, heads, d_ff, n_layers, P=2 ** 12, dropout=0.0, attention='learned'):
        super().__init__()
        self.src_embed = nn.Embedding(n_vocab, d_model)
        self.transformer = TransformerXL(d_model, heads, d_ff, n_layers, P, dropout, attention)
        self.generator = nn.Linear(d_model, n_vocab)

    def forward(self, x, mem):
        m_len = len(mem[0]) if mem else 0
        t = len(x)
        mask_x = torch.tril(torch.ones(t, t, device=x.device)).unsqueeze(-1)  # subsequent_mask
        if m_len:
            mask = torch.cat((torch.ones(t, m_len, 1, device=x.device), mask_x), dim=1)
        else:
            mask = mask_x
        res, mem = self.transformer(self.src_embed(x), mem, mask)
        return self.generator(res), mem


def merge_memory(old_mem, new_mem, mem_len):
    # labml's experiment: concatenate and keep the last mem_len positions.
    if mem_len == 0:
        return []
    if not old_mem:
        mem = new_mem
    else:
        mem = [torch.cat((m, x), dim=0) for m, x in zip(old_mem, new_mem)]
    return [m[-mem_len:] for m in mem]
