"""Chapter 10, attention in today's language models: the checkers for its coding exercises."""

from __future__ import annotations

import numbers

import torch

from ..grouped_query import GroupedQueryAttention, mha_to_gqa
from ..linear_attention import linear_attention
from ..lm_variants import kv_cache_bytes
from ._report import Case, Report, _close, _describe, _gen, _run, plural
from .beyond_sequences import _exact


def _one_number(out):
    """A number as a 1-element float64 tensor, or a message saying what came instead."""
    if out is None:
        return None
    if isinstance(out, torch.Tensor) and out.numel() == 1:
        out = out.item()
    if isinstance(out, bool) or not isinstance(out, numbers.Real):
        return f"expected a number of bytes, got {_describe(out)}"
    return torch.tensor([float(out)], dtype=torch.float64)


def check_cache_bytes(cache_bytes) -> Report:
    """Chapter 10: ``cache_bytes(layers, num_heads, num_kv_heads, head_dim, tokens, nbytes)``.

    The bytes of the KV cache of one sequence of ``tokens`` tokens: keys and values
    of ``num_kv_heads`` heads of ``head_dim`` numbers, per layer, ``nbytes`` bytes a
    number.  The reference is :func:`attnlib.kv_cache_bytes`.
    """
    cases = []
    for layers, H, G, d, t, b in [(3, 4, 4, 8, 10, 4), (32, 32, 8, 128, 4096, 2),
                                  (3, 6, 2, 16, 7, 2), (80, 64, 8, 128, 1000, 1)]:
        ref = kv_cache_bytes(t, layers=layers, num_kv_heads=G, head_dim=d, bytes_per_number=b)
        wrongs = [
            (ref // 2, "hint: the cache stores a key AND a value per head: a factor 2."),
            (ref // G * H, "hint: only the num_kv_heads key-value heads are cached,\n"
                           "not one per query head."),
            (ref // layers, "hint: every layer keeps its own cache."),
            (ref // b, "hint: multiply the count of numbers by the bytes per number."),
        ]

        def diagnose(got, wrongs=wrongs, ref=ref):
            for value, hint in wrongs:
                if value != ref and got.item() == value:
                    return hint
            return "hint: count the numbers of one token in one layer first."
        cases.append(Case(f"{plural(layers, 'layer')}, {plural(H, 'head')}, {plural(G, 'kv head')}", (layers, H, G, d, t, b),
                          torch.tensor([float(ref)], dtype=torch.float64), diagnose,
                          rtol=0, atol=0))
    return _run("cache bytes", cache_bytes, cases, pick=_one_number,
                returns="a number of bytes", return_hint="hint: return an int.", show=_exact)


def check_multi_query_from_multi_head(convert) -> Report:
    """Chapter 10: ``convert(mha, num_kv_heads)`` returns a :class:`attnlib.GroupedQueryAttention`
    whose key and value heads are the means of ``mha``'s groups (Ainslie et al., 2023).

    The checker runs the returned module on a fixed input and compares with
    :func:`attnlib.mha_to_gqa`.

    Shapes:
        - the returned module maps ``(B, L, E) -> (B, L, E)``
    """
    cases = []
    for E, H, G in [(8, 2, 1), (16, 4, 1), (16, 4, 2), (24, 6, 3)]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(E + H + G)
            mha = GroupedQueryAttention(E, H, H).double()
        x = torch.randn(2, 5, E, generator=_gen(E * H), dtype=torch.float64)
        expected = mha_to_gqa(mha, G)(x, is_causal=True)
        summed = mha_to_gqa(mha, G)
        first = mha_to_gqa(mha, G)
        with torch.no_grad():
            for name in ("k_proj", "v_proj"):
                w = getattr(mha, name).weight.view(G, H // G, E // H, E)
                getattr(summed, name).weight.copy_(w.sum(1).reshape(-1, E))
                getattr(first, name).weight.copy_(w[:, 0].reshape(-1, E))
        wrong = {"sum": summed(x, is_causal=True), "first": first(x, is_causal=True)}

        def diagnose(got, wrong=wrong):
            if _close(got, wrong["sum"]):
                return "hint: average the group's heads (divide the sum by H/G)."
            if _close(got, wrong["first"]):
                return "hint: pool every head of the group, not only its first."
            return ("hint: head g pools heads g*H/G .. (g+1)*H/G - 1 (neighbours);\n"
                    "view the weight as (G, H/G, d, E) and take .mean(1).")
        cases.append(Case(f"{plural(H, 'head')} to {G}", (mha, G, x), expected, diagnose, rtol=1e-6,
                          atol=1e-8))

    def run(mha, G, x):
        model = convert(mha, G)
        if model is None:
            return None
        if not isinstance(model, GroupedQueryAttention):
            return f"expected a GroupedQueryAttention, got {_describe(model)}"
        return model(x, is_causal=True)
    run.__name__ = getattr(convert, "__name__", "your function")
    return _run("multi-query from multi-head", run if callable(convert) else convert, cases,
                returns="a GroupedQueryAttention",
                return_hint="hint: build GroupedQueryAttention(E, H, num_kv_heads) and fill it.")


def check_absorbed_query(absorb) -> Report:
    """Chapter 10: ``absorb(q_nope, w_uk)``, the latent query ``q^C_h W^{UK}_h`` of every head.

    Shapes:
        - q_nope: ``(B, H, L, d_n)``; w_uk: ``(H, d_n, r)`` (from ``up_weights()``)
        - returns: ``(B, H, L, r)``
    """
    cases = []
    for B, H, L, dn, r in [(1, 2, 3, 4, 6), (2, 4, 5, 8, 8), (1, 3, 1, 6, 10)]:
        gen = _gen(B + H + L + dn + r)
        q = torch.randn(B, H, L, dn, generator=gen, dtype=torch.float64)
        w = torch.randn(H, dn, r, generator=gen, dtype=torch.float64)
        shared = q @ w[0]  # every head with head 0's matrix

        def diagnose(got, shared=shared):
            if _close(got, shared):
                return "hint: each head has its own W^UK_h; multiply head by head."
            return "hint: (B, H, L, d_n) @ (H, d_n, r) broadcasts over B: one matmul."
        cases.append(Case(f"B={B} H={H} L={L} d_n={dn} r={r}", (q, w), q @ w, diagnose,
                          rtol=1e-6, atol=1e-8))
    return _run("absorbed query", absorb, cases)


def check_linear_recurrence(recurrent) -> Report:
    """Chapter 10: ``recurrent(q, k, v)``, causal linear attention one token at a time.

    A state ``S`` (``E x Ev``) and ``z`` (``E``) per batch entry, updated once a token;
    ``phi(x) = elu(x) + 1``; output ``phi(q_i)^T S_i / (phi(q_i)^T z_i)``.  The
    reference is :func:`attnlib.linear_attention` with ``is_causal=True`` (its ``eps``
    of 1e-6 is within the tolerance).

    Shapes:
        - q, k: ``(B, L, E)``; v: ``(B, L, Ev)``; returns ``(B, L, Ev)``
    """
    cases = []
    for B, L, E, Ev in [(1, 3, 2, 2), (2, 6, 4, 3), (3, 9, 8, 5)]:
        gen = _gen(B * L + E + Ev)
        q, k = (torch.randn(B, L, E, generator=gen, dtype=torch.float64) for _ in range(2))
        v = torch.randn(B, L, Ev, generator=gen, dtype=torch.float64)
        everything = linear_attention(q, k, v)

        def diagnose(got, everything=everything):
            if _close(got, everything):
                return ("hint: read the state after adding token i, before\n"
                        "the later tokens: query i sees keys 0..i only.")
            return "hint: did you divide by phi(q_i) . z_i?"
        cases.append(Case(f"B={B} L={L} E={E} Ev={Ev}", (q, k, v),
                          linear_attention(q, k, v, is_causal=True), diagnose,
                          rtol=1e-5, atol=1e-6))
    return _run("recurrent linear attention", recurrent, cases)
