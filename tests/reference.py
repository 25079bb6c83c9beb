"""Reference implementations written out for the tests, independent of attnlib's code."""

import torch
import torch.nn.functional as F
from torch import nn


class ArticleAttn(nn.Module):
    """The source article's rule-1 class, restated (works for batch size 1 only)."""

    def __init__(self, query_size, key_size, value_size1, value_size2, output_size):
        super().__init__()
        self.attn = nn.Linear(query_size + key_size, value_size1)
        self.attn_combine = nn.Linear(query_size + value_size2, output_size)

    def forward(self, Q, K, V):
        attn_weights = F.softmax(self.attn(torch.cat((Q[0], K[0]), 1)), dim=1)
        attn_applied = torch.bmm(attn_weights.unsqueeze(0), V)
        output = torch.cat((Q[0], attn_applied[0]), 1)
        output = self.attn_combine(output).unsqueeze(0)
        return output, attn_weights


def additive_by_loops(W, b, v, query, key, value, mask=None):
    """Rule 2 in its concatenated form, one (batch, query, key) triple at a time.

    score = v . tanh(W [q; k] + b); masked keys are skipped; a query with no
    allowed key gets zero weights.
    """
    B, L, _ = query.shape
    S = key.shape[1]
    weights = torch.zeros(B, L, S, dtype=query.dtype)
    for bi in range(B):
        for i in range(L):
            allowed = [j for j in range(S) if mask is None or bool(mask[bi, i, j])]
            if not allowed:
                continue
            scores = torch.stack([
                v @ torch.tanh(W @ torch.cat((query[bi, i], key[bi, j])) + b) for j in allowed
            ])
            weights[bi, i, allowed] = torch.exp(scores - scores.max()) / torch.exp(
                scores - scores.max()).sum()
    return weights @ value, weights
