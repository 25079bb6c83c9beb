"""Checkers for the chapters' coding exercises.

Each ``check_*`` function takes the reader's function, runs it on a few fixed
cases, compares with a reference, and returns a :class:`Report` that reads as
plain text in a notebook: which case failed, the input shapes, expected versus
got, and a hint for the mistakes readers make most.  It never lets a
traceback escape from the reader's code, and it never passes a wrong answer:
every case compares the full result with the reference.

Example:
    >>> def my_masked_softmax(scores, mask):
    ...     raise NotImplementedError
    >>> check_masked_softmax(my_masked_softmax).passed
    False
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .dot_product import scaled_dot_product_attention
from .masking import masked_softmax

# ----------------------------------------------------------------------------- report


@dataclass
class Report:
    """The outcome of a checker: ``passed`` and the lines shown to the reader."""

    exercise: str
    passed: bool
    lines: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return "\n".join(self.lines)

    def __repr__(self) -> str:
        return str(self)


@dataclass
class Case:
    """One input for the reader's function and how to judge the answer.

    ``diagnose(got)`` returns a hint naming a known mistake, or ``None``.
    """

    label: str
    args: tuple
    expected: torch.Tensor
    diagnose: Callable[[torch.Tensor], str | None] = lambda got: None
    rtol: float = 1e-5
    atol: float = 1e-6
    error_hint: str = "hint: run it on these inputs yourself and print the shapes step by step."

    def hint(self, got: torch.Tensor, default: str) -> str:
        """The diagnosis for ``got``, or ``default`` when no known mistake matches."""
        try:
            return self.diagnose(got) or default
        except Exception:  # a diagnosis must never hide the report itself
            return default


def _describe(x) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor {tuple(x.shape)} {str(x.dtype).replace('torch.', '')}"
    if isinstance(x, torch.nn.Module):
        return type(x).__name__
    return repr(x)


def _short(t: torch.Tensor) -> str:
    flat = t.detach().flatten()[:6].tolist()
    more = ", ..." if t.numel() > 6 else ""
    return "[" + ", ".join(f"{v:.4g}" for v in flat) + more + "]"


def _run(exercise: str, fn, cases: list[Case], pick: Callable = lambda out: out) -> Report:
    """Run ``fn`` on every case; stop at the first failure with a friendly explanation."""
    name = getattr(fn, "__name__", "your function")
    if not callable(fn):
        return Report(exercise, False, [f"✗ {exercise}: expected a function, got {_describe(fn)}."])
    for i, case in enumerate(cases, 1):
        head = f"✗ {exercise}, case {i}/{len(cases)} ({case.label})"
        inputs = "inputs: " + ", ".join(_describe(a) for a in case.args)
        try:
            with torch.no_grad():
                out = fn(*[a.clone() if isinstance(a, torch.Tensor) else a for a in case.args])
        except NotImplementedError:
            return Report(exercise, False, [
                f"… {exercise}: not done yet. `{name}` still raises NotImplementedError;",
                "replace the stub with your code and run the cell again."])
        except Exception as err:  # the reader's code: report it, never re-raise
            return Report(exercise, False, [
                head, inputs, f"`{name}` raised {type(err).__name__}: {err}", case.error_hint])
        got = pick(out)
        if not isinstance(got, torch.Tensor):
            what = got if isinstance(got, str) else f"expected a tensor, got {_describe(got)}"
            return Report(exercise, False, [
                head, inputs, what,
                "hint: did you forget a `return`?" if out is None else "hint: return a torch.Tensor."])
        lines = [head, inputs]
        if got.shape != case.expected.shape:
            hint = case.hint(got, "hint: print the shape after each step and compare with the legend.")
            return Report(exercise, False, lines + [
                f"expected shape {tuple(case.expected.shape)}, got {tuple(got.shape)}", hint])
        if torch.isnan(got).any() and not torch.isnan(case.expected).any():
            hint = case.hint(got, "hint: where can 0/0 or inf - inf happen in your code?")
            return Report(exercise, False, lines + ["your result contains NaN", hint])
        if not torch.allclose(got.double(), case.expected.double(), rtol=case.rtol, atol=case.atol):
            diff = (got.double() - case.expected.double()).abs().max().item()
            hint = case.hint(got, "hint: compare your result with the reference row by row.")
            return Report(exercise, False, lines + [
                f"expected {_short(case.expected)}", f"got      {_short(got)}",
                f"largest difference {diff:.3g}", hint])
    return Report(exercise, True, [f"✓ {exercise}: all {len(cases)} cases pass. Well done!"])


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-5)


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----------------------------------------------------------------------------- chapter 1


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


# ----------------------------------------------------------------------------- chapter 2


def check_einsum_output(fn) -> Report:
    """Chapter 2: ``fn(weights, value)`` -> ``weights @ value`` written with ``torch.einsum``.

    Shapes:
        - weights: ``(B, H, L, S)``, value: ``(B, H, S, Ev)`` -> ``(B, H, L, Ev)``
    """
    cases = []
    for label, (B, H, L, S, Ev), seed in [("B=2, H=3, L=4, S=5, Ev=6", (2, 3, 4, 5, 6), 0),
                                          ("L = S = Ev = 4", (1, 2, 4, 4, 4), 1)]:
        g = _gen(seed)
        w = torch.softmax(torch.randn(B, H, L, S, generator=g), -1)
        v = torch.randn(B, H, S, Ev, generator=g)

        def diagnose(got, w=w, v=v):
            if got.dim() == 5:
                return "hint: the key axis s must be summed over, so leave it out after '->'."
            if w.shape[-1] == w.shape[-2] and _close(got, w.transpose(-2, -1) @ v):
                return "hint: you summed over the query axis; the weights are indexed (l, s), not (s, l)."
            return None

        cases.append(Case(label, (w, v), w @ v, diagnose))
    return _run("weights @ value with einsum", fn, cases)


# ----------------------------------------------------------------------------- chapter 3


def check_batched_rule1(fn) -> Report:
    """Chapter 3: ``fn(Q, K, V, attn, attn_combine)`` -> rule 1's ``(output, weights)`` for any batch.

    ``attn`` and ``attn_combine`` are the article's two ``nn.Linear`` layers.

    Shapes:
        - Q: ``(B, L, q)``, K: ``(B, L, k)``, V: ``(B, v1, v2)``
        - returns output ``(B, L, out)`` and weights ``(B, L, v1)``
    """
    from .location import LocationAttention

    batch_hint = ("hint: with several items in the batch, Q[0] and unsqueeze(0) no longer fit; "
                  "keep the batch axis and concatenate on the last axis (dim=-1).")
    cases = []
    for label, (B, L), seed in [("batch 1, one query", (1, 1), 0), ("batch 3, one query", (3, 1), 1),
                                ("batch 2, four queries", (2, 4), 2)]:
        torch.manual_seed(seed)
        ref = LocationAttention(4, 3, 5, 6, 2)
        g = _gen(seed)
        Q, K, V = torch.randn(B, L, 4, generator=g), torch.randn(B, L, 3, generator=g), torch.randn(B, 5, 6, generator=g)
        with torch.no_grad():
            out, w = ref(Q, K, V)
        for part, expected in [("output", out), ("weights", w)]:
            def diagnose(got, expected=expected, B=B):
                if B > 1 and got.shape[0] == 1 and got.shape[1:] == expected.shape[1:]:
                    return "hint: your result has batch size 1: indexing Q[0] keeps only the first item."
                if got.shape == expected.shape[1:]:
                    return "hint: keep the batch axis: concatenate on the last axis (dim=-1) instead of Q[0]."
                if B > 1 and got.shape == expected.shape and _close(got[:1], expected[:1]):
                    return "hint: item 0 is right but the others are not: is every item using its own V?"
                return None

            cases.append(Case(f"{label}: {part}", (Q, K, V, ref.attn, ref.attn_combine), expected, diagnose,
                              error_hint=batch_hint if B > 1 else Case.error_hint))
    report = None
    for i in (0, 1):  # first the outputs, then the weights, each through the same function
        report = _run("batched rule 1", fn, cases[i::2], pick=lambda out, i=i: _pick(out, i))
        if not report:
            return report
    return Report("batched rule 1", True, [f"✓ batched rule 1: all {len(cases)} checks pass. Well done!"])


def _pick(out, i):
    """Part ``i`` of an ``(output, weights)`` answer, or a message saying what came instead."""
    if out is None:
        return None
    if not isinstance(out, tuple) or len(out) != 2:
        return f"expected a tuple (output, weights), got {_describe(out)}"
    return out[i]


# ----------------------------------------------------------------------------- chapter 4


def check_additive_scores(fn) -> Report:
    """Chapter 4: ``fn(query, key, w_query, w_key, v)`` -> rule 2's scores ``v^T tanh(W_q q + W_k k + b)``.

    Shapes:
        - query: ``(B, L, Eq)``, key: ``(B, S, Ek)`` -> scores ``(B, L, S)``
    """
    from .additive import AdditiveAttention

    cases = []
    for label, (B, L, S), seed in [("B=2, L=3, S=5", (2, 3, 5), 0), ("L = S = 4", (1, 4, 4), 1),
                                   ("one query", (2, 1, 6), 2)]:
        torch.manual_seed(seed)
        m = AdditiveAttention(6, 4, 8)
        g = _gen(seed)
        q, k = torch.randn(B, L, 6, generator=g), torch.randn(B, S, 4, generator=g)
        with torch.no_grad():
            expected = m.scores(q, k)
            swapped = m.v(torch.tanh(m.w_query(q).unsqueeze(1) + m.w_key(k).unsqueeze(2))).squeeze(-1)
            summed = torch.tanh(m.w_query(q).unsqueeze(2) + m.w_key(k).unsqueeze(1)).sum(-1)

        def diagnose(got, swapped=swapped, summed=summed, B=B, L=L, S=S):
            if got.shape == (B, S, L) or _close(got, swapped):
                return "hint: queries go on axis 1 and keys on axis 2: q.unsqueeze(2) + k.unsqueeze(1)."
            if got.shape == (B, L, S, 1):
                return "hint: squeeze the last axis after applying v: (B, L, S, 1) -> (B, L, S)."
            if _close(got, summed):
                return "hint: that is the article's sum over the hidden axis; apply the learned v instead."
            return None

        cases.append(Case(label, (q, k, m.w_query, m.w_key, m.v), expected, diagnose))
    return _run("additive scores", fn, cases)


# ----------------------------------------------------------------------------- chapter 5


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


# ----------------------------------------------------------------------------- chapter 6


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


# ----------------------------------------------------------------------------- chapter 7


def check_split_merge(split_heads, merge_heads) -> Report:
    """Chapter 7: ``split_heads(x, H)`` and its inverse ``merge_heads(x)``.

    Shapes:
        - split_heads: ``(B, N, E)`` -> ``(B, H, N, E/H)``
        - merge_heads: ``(B, H, N, E/H)`` -> ``(B, N, E)``
    """
    split_cases, merge_cases = [], []
    for B, N, E, H in [(1, 4, 6, 2), (2, 5, 16, 4), (3, 1, 8, 8), (2, 3, 8, 1)]:
        x = torch.randn(B, N, E, generator=_gen(B * 100 + N))
        heads = x.view(B, N, H, E // H).transpose(1, 2)  # (B, N, E) -> (B, N, H, E/H) -> (B, H, N, E/H)
        no_transpose = x.view(B, H, N, E // H)
        merged_wrong = heads.contiguous().reshape(B, N, E)
        split_cases.append(Case(
            f"x {(B, N, E)}, {H} heads", (x, H), heads,
            lambda got, w=no_transpose: "hint: viewing straight to (B, H, N, E/H) mixes positions "
            "into heads; view to (B, N, H, E/H), then transpose(1, 2)." if _close(got, w) else None))
        merge_cases.append(Case(
            f"heads {(B, H, N, E // H)}", (heads.contiguous(),), x,
            lambda got, w=merged_wrong: "hint: a reshape without transpose(1, 2) first reads the "
            "heads one after the other; move the head axis back next to d first." if _close(got, w) else None))
    for name, fn, cases in [("split_heads", split_heads, split_cases),
                            ("merge_heads", merge_heads, merge_cases)]:
        report = _run(name, fn, cases)
        if not report:
            return report
    n = len(split_cases) + len(merge_cases)
    return Report("split and merge heads", True,
                  [f"✓ split_heads and merge_heads: all {n} cases pass. Well done!"])


# ----------------------------------------------------------------------------- chapter 8


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


__all__ = ["Report", "check_decoder_attention_step", "check_split_merge", "check_tiled_padding", "check_additive_scores", "check_batched_rule1", "check_causal_self_attention",
           "check_einsum_output", "check_laplace_weights", "check_masked_softmax"]
