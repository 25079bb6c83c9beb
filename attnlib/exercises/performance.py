"""Chapter 8, performance: the checker for its coding exercise."""

from __future__ import annotations

import torch

from ..dot_product import scaled_dot_product_attention
from ..masking import masked_softmax
from ._report import Case, Report, _close, _gen, _run


def check_tiled_padding(fn) -> Report:
    """Chapter 8: ``fn(query, key, value, key_padding, block)`` -> rule 3 over key blocks with padding.

    ``key_padding`` is boolean, ``True`` = a real key; a query whose keys are all
    padded must get a zero output, never NaN.

    Shapes:
        - query: ``(..., L, E)``, key: ``(..., S, E)``, value: ``(..., S, Ev)``
        - key_padding: ``(..., S)`` -> ``(..., L, Ev)``
    """
    cases = []
    for label, (B, H, L, S, E), block, seed in [("blocks divide S", (2, 2, 3, 8, 4), 4, 0),
                                               ("blocks do not divide S", (1, 3, 5, 9, 8), 4, 1),
                                               ("one block", (2, 1, 4, 6, 4), 16, 2)]:
        g = _gen(seed)
        q, k, v = (torch.randn(B, H, n, E, generator=g, dtype=torch.float64) for n in (L, S, S))
        pad = torch.rand(B, H, S, generator=g) > 0.4
        pad[..., -1] = True
        pad[0, 0] = False  # every key of one (batch, head) is padding
        expected = scaled_dot_product_attention(q, k, v, pad[..., None, :])[0]
        ignored = scaled_dot_product_attention(q, k, v)[0]
        uniform = scaled_dot_product_attention(q, k, v, pad[..., None, :])[0]
        uniform[0, 0] = v[0, 0].mean(0)  # what a -1e9-style fill gives a fully padded row

        def diagnose(got, ignored=ignored, uniform=uniform):
            if torch.isnan(got).any():
                return ("hint: a block whose scores are all -inf gives m_new = -inf and "
                        "(-inf) - (-inf) = NaN; subtract a finite stand-in for such rows.")
            if _close(got, uniform):
                return "hint: a query with every key padded must get a zero output, not an average."
            if _close(got, ignored):
                return "hint: the padding is ignored: fill the padded scores with -inf in every block."
            return None

        cases.append(Case(label, (q, k, v, pad, block), expected, diagnose, rtol=1e-7, atol=1e-9))
    return _run("tiled attention with padding", fn, cases)
