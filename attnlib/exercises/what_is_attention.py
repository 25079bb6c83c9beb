"""Chapter 1, what attention is: the checker for its coding exercise."""

from __future__ import annotations

import torch

from ._report import Case, Report, _close, _gen, _run


def check_laplace_weights(fn) -> Report:
    """Chapter 1: ``fn(x_query, x_keys, b)`` -> ``(L, S)`` weights ``softmax_j(-|x_i - x_j| / b)``.

    Shapes:
        - x_query: ``(L,)``, x_keys: ``(S,)`` -> ``(L, S)``
    """
    cases = []
    for label, L, S, b, seed in [("3 queries, 5 keys", 3, 5, 0.5, 0), ("6 queries, 4 keys", 6, 4, 2.0, 1),
                                 ("a narrow kernel", 4, 7, 0.05, 2)]:
        g = _gen(seed)
        xq, xk = torch.rand(L, generator=g) * 5, torch.rand(S, generator=g) * 5
        diff = xq[:, None] - xk[None, :]
        wrong = {
            "softmax over the queries": torch.softmax(-diff.abs() / b, dim=0),
            "no absolute value": torch.softmax(-diff / b, dim=1),
            "no division by b": torch.softmax(-diff.abs(), dim=1),
            "a squared distance": torch.softmax(-diff**2 / b, dim=1),
        }
        hints = {
            "softmax over the queries": "hint: each row (one query) must sum to 1: softmax over the keys, dim=1.",
            "no absolute value": "hint: the score is -|x - x_i| / b; take .abs() of the difference.",
            "no division by b": "hint: divide the distance by the width b.",
            "a squared distance": "hint: the Laplace kernel uses |x - x_i|, not (x - x_i)**2.",
        }

        def diagnose(got, wrong=wrong, hints=hints, L=L, S=S):
            if got.shape == (S, L):
                return "hint: rows are queries and columns keys: shape (L, S), not (S, L)."
            return next((hints[k] for k, w in wrong.items() if _close(got, w)), None)

        cases.append(Case(label, (xq, xk, b), torch.softmax(-diff.abs() / b, dim=1), diagnose))
    return _run("Laplace kernel weights", fn, cases)
