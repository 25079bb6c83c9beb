"""Chapter 6, the rules compared on a trained task: the checker for its coding exercise."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..dot_product import scaled_dot_product_attention
from ._report import Case, Report, _close, _run


def check_decoder_attention_step(fn):
    """Chapter 6's exercise: ``fn(state, memory, mask, combine)`` -> ``tanh(W_c [s; c] + b_c)``.

    ``c`` is rule 3's context: ``softmax(s . h_j / sqrt(H))`` over the allowed
    positions (``mask`` True), times the rows ``h_j`` of ``memory``; ``combine``
    is the ``nn.Linear(2H, H)`` holding ``W_c`` and ``b_c``.  Returns an
    :class:`attnlib.exercises.Report`.

    Shapes:
        - state: ``(B, H)``, memory: ``(B, S, H)``, mask: ``(B, S)`` -> ``(B, H)``
    """
    cases = []
    for label, (B, S, H), lengths, seed in [("B=2, S=5, item 1 padded", (2, 5, 8), [5, 3], 0),
                                            ("B=3, S=4, no padding", (3, 4, 6), [4, 4, 4], 1),
                                            ("B=2, S=7, H=4, padded", (2, 7, 4), [2, 7], 2)]:
        g = torch.Generator().manual_seed(seed)
        state = torch.randn(B, H, generator=g)
        mask = torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]  # (B, S)
        memory = torch.randn(B, S, H, generator=g) * mask[..., None]  # padded rows are zero
        combine = nn.Linear(2 * H, H)
        with torch.no_grad():
            combine.weight.copy_(torch.randn(H, 2 * H, generator=g) / math.sqrt(2 * H))
            combine.bias.copy_(torch.randn(H, generator=g) * 0.1)

        def variant(*, scale=None, use_mask=True, swap=False, squash=True,
                    state=state, memory=memory, mask=mask, combine=combine):
            s = state[:, None, :]  # (B, H) -> (B, 1, H): one query per item
            with torch.no_grad():
                c, _ = scaled_dot_product_attention(s, memory, memory,
                                                    mask[:, None, :] if use_mask else None,
                                                    scale=scale)  # (B, 1, H)
                joined = torch.cat((c, s) if swap else (s, c), dim=-1)  # (B, 1, 2H)
                out = combine(joined).squeeze(1)  # (B, H)
            return torch.tanh(out) if squash else out

        expected = variant()
        wrong = [
            (variant(scale=1.0), "hint: divide the scores s . h_j by sqrt(H) before the softmax."),
            (variant(use_mask=False), "hint: padded positions must get weight 0: use the mask "
                                      "(True = may attend) before the softmax."),
            (variant(swap=True), "hint: the state comes first: concatenate [s_t; c_t], "
                                 "not [c_t; s_t]."),
            (variant(squash=False), "hint: the output is tanh(W_c [s; c] + b_c): "
                                    "apply torch.tanh."),
        ]

        def diagnose(got, wrong=wrong, B=B, H=H):
            if got.shape == (B, 1, H):
                return "hint: return (B, H): squeeze the query axis of length 1."
            return next((hint for w, hint in wrong if _close(got, w)), None)

        cases.append(Case(label, (state, memory, mask, combine), expected, diagnose))
    return _run("decoder attention step (rule 3)", fn, cases)
