"""Chapter 12, writing the kernel: the checkers for its coding exercises.

None of them needs Triton: they check the arithmetic a kernel's program does
(which key blocks it visits, how two partial results merge), written in PyTorch.
"""

from __future__ import annotations

import math
import numbers

import torch

from ..dot_product import scaled_dot_product_attention
from ._report import Case, Report, _close, _describe, _gen, _run


def check_causal_blocks(causal_blocks) -> Report:
    """Chapter 12: ``causal_blocks(L, S, block_m, block_n)``, key blocks per causal program.

    Program ``i`` of the causal forward kernel holds queries ``i * block_m`` to
    ``(i + 1) * block_m - 1`` (fewer in the last block) and reads the key blocks
    that hold at least one key it may see (query ``r`` sees keys ``0..r``).

    Returns:
        one int per program (``ceil(L / block_m)`` of them), in program order.
    """
    cases = []
    for L, S, bm, bn in [(128, 128, 64, 64), (256, 256, 64, 32), (100, 100, 32, 32),
                         (200, 90, 64, 32), (40, 300, 16, 64)]:
        n_prog = -(-L // bm)
        expected = torch.tensor([-(-min(S, (i + 1) * bm) // bn) for i in range(n_prog)],
                                dtype=torch.float64)
        wrongs = [
            ([-(-S // bn)] * n_prog, "hint: that is every key block; the causal program\n"
             "stops after the block that holds its last query's key."),
            ([-(-((i + 1) * bm) // bn) for i in range(n_prog)],
             "hint: there are only ceil(S / block_n) key blocks; a program\n"
             "past the last key stops there (min with S)."),
            ([min(S, (i + 1) * bm) // bn for i in range(n_prog)],
             "hint: round up: a block that is only partly visible is read too."),
            ([-(-min(S, i * bm) // bn) for i in range(n_prog)],
             "hint: the block's last query is (i + 1) * block_m - 1, so it\n"
             "sees keys up to that index: count up to (i + 1) * block_m."),
        ]

        def diagnose(got, wrongs=wrongs):
            values = got.tolist()
            return next((hint for w, hint in wrongs if [float(x) for x in w] == values), None)
        cases.append(Case(f"L = {L}, S = {S}, blocks {bm} x {bn}", (L, S, bm, bn), expected,
                          diagnose, rtol=0, atol=0,
                          error_hint="hint: causal_blocks gets four ints and returns a list\n"
                          "of ints, one per program; no tensors needed."))
    return _run("causal_blocks", causal_blocks, cases, pick=_int_list,
                returns="a list of ints", show=_ints,
                return_hint="hint: return a list with one int per program.")


def _int_list(out):
    """A list of counts as a float64 tensor, or a message saying what came instead."""
    if out is None:
        return None
    if isinstance(out, torch.Tensor):
        out = out.tolist()
    if not isinstance(out, (list, tuple)) or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in out):
        what = _describe(out)
        return f"expected a list of ints, got {what if len(what) <= 30 else what[:27] + '...'}"
    return torch.tensor([float(v) for v in out], dtype=torch.float64)


def _ints(t: torch.Tensor) -> str:
    """``[2, 4, 4]``: whole numbers in full, anything else to 4 digits."""
    return "[" + ", ".join(str(int(v)) if math.isfinite(v) and v == int(v) else f"{v:.4g}"
                           for v in t.tolist()) + "]"


def _part(q, k, v, scale):
    """One tile's normalized output and log-sum-exp: what a kernel's program writes."""
    scores = (q @ k.transpose(-2, -1)) * scale  # (B, H, L, s)
    return scaled_dot_product_attention(q, k, v, scale=scale)[0], torch.logsumexp(scores, -1)


def check_merge_partials(merge) -> Report:
    """Chapter 12: ``merge(o1, lse1, o2, lse2)`` -> ``(o, lse)`` over both parts' keys.

    ``o1`` is attention over a first part of the keys, normalized on its own,
    and ``lse1`` the log-sum-exp of that part's scores; the same for part 2.
    The merge must give attention over all the keys and its log-sum-exp.  A
    part with no keys has ``lse = -inf`` and ``o = 0``.

    Shapes:
        - o1, o2: ``(B, H, L, Ev)``; lse1, lse2: ``(B, H, L)``
        - returns: ``(B, H, L, Ev)`` and ``(B, H, L)``
    """
    cases = []
    for label, (B, H, L, S1, S2, E), shift, seed in [
            ("two parts of 5 and 7 keys", (1, 2, 3, 5, 7, 8), 0.0, 0),
            ("part 2 scores ~1000 higher", (2, 1, 4, 6, 3, 4), 300.0, 1),
            ("part 2 has no keys", (1, 1, 3, 4, 0, 4), 0.0, 2)]:
        g = _gen(seed)
        q = torch.randn(B, H, L, E, generator=g, dtype=torch.float64)
        k = torch.randn(B, H, S1 + S2, E, generator=g, dtype=torch.float64)
        v = torch.randn(B, H, S1 + S2, E, generator=g, dtype=torch.float64)
        k[:, :, S1:] *= 1 + shift  # large scores in part 2: a naive exp overflows
        scale = 1 / math.sqrt(E) if not shift else 1.0
        o, lse = _part(q, k, v, scale)
        o1, lse1 = _part(q, k[:, :, :S1], v[:, :, :S1], scale)
        o2, lse2 = _part(q, k[:, :, S1:], v[:, :, S1:], scale)
        if S2 == 0:
            o2 = torch.zeros_like(o1)
        expected = torch.cat((o, lse[..., None]), -1)  # (B, H, L, Ev + 1)
        plain = torch.cat(((o1 + o2) / 2, lse[..., None]), -1)
        summed = torch.cat((o1 + o2, lse[..., None]), -1)

        def diagnose(got, plain=plain, summed=summed, o=o, Ev=E):
            if _close(got, plain):
                return ("hint: the parts are not worth the same: weight o1 by\n"
                        "exp(lse1 - lse) and o2 by exp(lse2 - lse).")
            if _close(got, summed):
                return "hint: each part is normalized; weight it by its share of the sum."
            if _close(got[..., :Ev], o):
                return "hint: the output is right; lse = log(exp(lse1) + exp(lse2))."
            return None
        cases.append(Case(label, (o1, lse1, o2, lse2), expected, diagnose, rtol=1e-7,
                          atol=1e-9))
    return _run("merge_partials", merge, cases, pick=_output_and_lse,
                returns="a tuple (o, lse)", return_hint="hint: end with `return o, lse`.")


def _output_and_lse(out):
    """``(o, lse)`` as one tensor ``[o | lse]``, or a message saying what came instead."""
    if out is None:
        return None
    if (not isinstance(out, (tuple, list)) or len(out) != 2
            or not all(isinstance(t, torch.Tensor) for t in out)):
        return f"expected a tuple (o, lse) of two tensors, got {_describe(out)[:30]}"
    o, lse = out
    if lse.shape != o.shape[:-1]:
        return (f"expected lse of shape {tuple(o.shape[:-1])} (one per query), "
                f"got {tuple(lse.shape)}")
    return torch.cat((o, lse[..., None].to(o.dtype)), -1)


def check_split_kv(split_kv) -> Report:
    """Chapter 12: ``split_kv(query, key, value, n_splits)``, Flash-Decoding's reduction.

    Attention of a few queries (one per decoding step) over a long cache: the
    keys are cut into ``n_splits`` consecutive chunks (the last may be
    shorter), each chunk's partial output and log-sum-exp are computed on its
    own, and the partials are merged.  The result equals rule 3 over all keys.

    Shapes:
        - query: ``(B, H, L, E)``, key: ``(B, H, S, E)``, value: ``(B, H, S, Ev)``
        - returns: ``(B, H, L, Ev)``
    """
    cases = []
    for (B, H, L, S, E, Ev), n, seed in [((1, 2, 1, 64, 8, 8), 4, 0),
                                         ((2, 2, 1, 50, 8, 4), 3, 1),
                                         ((1, 1, 2, 37, 4, 4), 5, 2)]:
        g = _gen(seed)
        q = torch.randn(B, H, L, E, generator=g, dtype=torch.float64)
        k = torch.randn(B, H, S, E, generator=g, dtype=torch.float64) * 2
        v = torch.randn(B, H, S, Ev, generator=g, dtype=torch.float64)
        expected = scaled_dot_product_attention(q, k, v)[0]
        size = -(-S // n)
        parts = [scaled_dot_product_attention(q, k[:, :, i:i + size], v[:, :, i:i + size])[0]
                 for i in range(0, S, size)]
        mean = torch.stack(parts).mean(0)

        def diagnose(got, mean=mean):
            if _close(got, mean):
                return ("hint: an average of the chunks' outputs weights them equally;\n"
                        "weight each by exp(lse_i - lse), lse over all chunks.")
            return None
        cases.append(Case(f"S = {S} keys in {n} chunks", (q, k, v, n), expected, diagnose,
                          rtol=1e-7, atol=1e-9))
    return _run("split_kv", split_kv, cases)
