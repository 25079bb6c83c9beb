"""Chapter 5, rule 3 (scaled dot-product attention): the checkers for its coding exercises."""

from __future__ import annotations

import torch

from ..dot_product import scaled_dot_product_attention
from ..masking import masked_softmax
from ._report import Case, Report, _close, _gen, _run


def check_masked_softmax(fn) -> Report:
    """Chapter 5: ``fn(scores, mask)`` -> weights: softmax over allowed keys, zeros elsewhere.

    ``mask`` is boolean, ``True`` = may attend, broadcastable to ``scores``; a row
    with no allowed key must come out as all zeros (not NaN, not uniform).

    Shapes:
        - scores: ``(..., L, S)``, mask: broadcastable -> ``(..., L, S)``
    """
    g = _gen(0)
    s1 = torch.randn(2, 3, 5, generator=g)
    m1 = torch.rand(2, 3, 5, generator=g) < 0.7
    m1[..., 0] = True
    s2 = torch.randn(3, 4, generator=g)
    m2 = torch.tensor([[True, True, False, False], [False, False, False, False],
                       [True, False, True, True]])
    s3 = torch.randn(2, 3, 4, generator=g)
    m3 = torch.tensor([[[True, True, True, False]], [[True, False, False, False]]])  # (B, 1, S)
    s4 = (torch.randn(2, 6, generator=g) * 1e4).half()
    m4 = torch.rand(2, 6, generator=g) < 0.5
    m4[:, 0] = True

    def diagnose_for(scores, mask):
        full = mask.expand_as(scores)
        empty = ~full.any(-1)  # rows with no allowed key

        def diagnose(got):
            if torch.isnan(got).any():
                return ("hint: a row whose keys are all masked gives 0/0 = NaN; "
                        "set such rows to zero (e.g. fill the masked entries of the result with 0).")
            if _close(got, masked_softmax(scores, ~full)):
                return "hint: True means *may attend*: keep the keys where the mask is True."
            if empty.any() and _close(got[empty], torch.full_like(got[empty], 1 / scores.shape[-1])):
                return ("hint: a fully masked row came out uniform, which averages keys the mask "
                        "excluded; it must be all zeros.")
            if (got[~full] != 0).any():
                return "hint: masked keys must get weight exactly 0: fill their scores with -inf."
            sums = got.double().sum(-1)[~empty]
            if not torch.allclose(sums, torch.ones_like(sums), atol=1e-3):
                return "hint: each row must sum to 1: softmax over the keys, the last axis (dim=-1)."
            return None

        return diagnose

    half = {"rtol": 1e-3, "atol": 1e-3}
    cases = [Case(label, (s, m), masked_softmax(s, m), diagnose_for(s, m),
                  **(half if s.dtype == torch.half else {}))
             for label, s, m in [("some keys masked", s1, m1), ("one row fully masked", s2, m2),
                                 ("a (B, 1, S) padding mask", s3, m3), ("float16 scores of size 1e4", s4, m4)]]
    return _run("masked softmax", fn, cases)


def check_causal_self_attention(fn) -> Report:
    """Chapter 5: ``fn(x)`` -> causal self-attention ``softmax(x x^T / sqrt(E) + causal mask) x``.

    Shapes:
        - x: ``(B, L, E)`` -> ``(B, L, E)``
    """
    cases = []
    for label, (B, L, E), seed in [("B=2, L=5, E=8", (2, 5, 8), 0), ("L=1", (3, 1, 4), 1), ("B=1, L=7, E=16", (1, 7, 16), 2)]:
        x = torch.randn(B, L, E, generator=_gen(seed))
        no_mask = scaled_dot_product_attention(x, x, x)[0]
        unscaled = scaled_dot_product_attention(x, x, x, is_causal=True, scale=1.0)[0]
        anti = scaled_dot_product_attention(x, x, x, torch.ones(L, L, dtype=torch.bool).triu())[0]

        def diagnose(got, no_mask=no_mask, unscaled=unscaled, anti=anti, x=x):
            if _close(got, no_mask):
                return "hint: no mask was applied: position i may only attend to positions 0..i (tril)."
            if _close(got, anti):
                return "hint: that mask lets each position see the *future*: use .tril(), not .triu()."
            if _close(got, unscaled):
                return "hint: divide the scores by sqrt(E) before the softmax."
            if not _close(got[:, :1], x[:, :1]):
                return "hint: position 0 can only see itself, so its output must equal x[:, 0]."
            return None

        cases.append(Case(label, (x,), scaled_dot_product_attention(x, x, x, is_causal=True)[0], diagnose))
    return _run("causal self-attention", fn, cases)
