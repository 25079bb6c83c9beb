"""Chapter 9, the Transformer: the checkers for its coding exercises."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..rotary import apply_rotary
from ..transformer import TransformerEncoderLayer
from ._report import Case, Report, _close, _gen, _run, plural


def check_rotary(rotate) -> Report:
    """Chapter 9: ``rotate(x)`` rotates pair ``(2i, 2i+1)`` at position ``m`` by ``m w_i``.

    ``w_i = 10000 ** (-2i / E)``; the reference is :func:`attnlib.apply_rotary`.

    Shapes:
        - x: ``(..., L, E)``, ``E`` even; returns ``(..., L, E)``
    """
    cases = []
    for shape in [(1, 4), (5, 2), (3, 6, 8), (2, 2, 7, 16)]:
        x = torch.randn(*shape, generator=_gen(sum(shape)), dtype=torch.float64)
        L, E = shape[-2], shape[-1]
        # typical mistakes, for the hints: pairs (i, i + E/2); rotating the other way
        angle = (torch.arange(L, dtype=torch.float64)[:, None]
                 * 10000.0 ** (-torch.arange(0, E, 2, dtype=torch.float64) / E))
        c, s = angle.cos(), angle.sin()
        x1, x2 = x[..., : E // 2], x[..., E // 2:]
        halves = torch.cat((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1)  # pairs (i, i + E/2)
        clockwise = apply_rotary(x * torch.tensor([1.0, -1.0] * (E // 2), dtype=x.dtype)) \
            * torch.tensor([1.0, -1.0] * (E // 2), dtype=x.dtype)  # rotation by -angle

        def diagnose(got, halves=halves, clockwise=clockwise):
            if _close(got, halves):
                return ("hint: rotate the neighbouring pairs (0, 1), (2, 3), ... -- you paired "
                        "feature i with feature i + E/2 (the other common layout).")
            if _close(got, clockwise):
                return ("hint: your rotation turns the wrong way: x'_2i = x_2i cos - x_2i+1 sin, "
                        "x'_2i+1 = x_2i sin + x_2i+1 cos.")
            return None
        cases.append(Case(f"x {shape}", (x,), apply_rotary(x), diagnose, rtol=1e-6, atol=1e-8,
                          error_hint="hint: print angle.shape; it should be (L, E/2) and "
                                     "broadcast over the leading dims."))
    return _run("rotary embedding", rotate, cases)


def check_grouped_query_attention(gqa) -> Report:
    """Chapter 9: ``gqa(q, k, v)`` with ``H`` query heads sharing ``G`` key/value heads.

    Query head ``h`` uses key/value group ``h // (H/G)``, the layout of
    ``torch.nn.functional.scaled_dot_product_attention(..., enable_gqa=True)`` (torch 2.5+;
    the tests check that the reference here, each group repeated ``H/G`` times next to
    itself, equals it).  No mask, the default scale ``1/sqrt(E)``.

    Shapes:
        - q: ``(B, H, L, E)``; k: ``(B, G, S, E)``; v: ``(B, G, S, Ev)``
        - returns: ``(B, H, L, Ev)``
    """
    cases = []
    for B, Hq, G, L, S, E in [(1, 2, 1, 3, 4, 4), (2, 4, 2, 5, 6, 8), (1, 6, 3, 2, 5, 4),
                              (2, 4, 4, 3, 3, 8)]:
        gen = _gen(B * 1000 + Hq * 100 + G)
        q = torch.randn(B, Hq, L, E, generator=gen, dtype=torch.float64)
        k = torch.randn(B, G, S, E, generator=gen, dtype=torch.float64)
        v = torch.randn(B, G, S, E, generator=gen, dtype=torch.float64)
        expected = F.scaled_dot_product_attention(q, k.repeat_interleave(Hq // G, 1),
                                                  v.repeat_interleave(Hq // G, 1))
        tiled = F.scaled_dot_product_attention(q, k.repeat(1, Hq // G, 1, 1),
                                               v.repeat(1, Hq // G, 1, 1))
        unscaled = F.scaled_dot_product_attention(q, k.repeat_interleave(Hq // G, 1),
                                                  v.repeat_interleave(Hq // G, 1),
                                                  scale=1.0)

        def diagnose(got, tiled=tiled, unscaled=unscaled):
            if _close(got, tiled):
                return ("hint: .repeat tiles the groups (0, 1, 0, 1); neighbouring\n"
                        "query heads share a group (0, 0, 1, 1):\n"
                        "use repeat_interleave(H // G, dim=1).")
            if _close(got, unscaled):
                return "hint: divide the scores by sqrt(E)."
            return None
        cases.append(Case(f"{plural(Hq, 'query head')}, {plural(G, 'key/value head')}", (q, k, v), expected,
                          diagnose, rtol=1e-6, atol=1e-8,
                          error_hint="hint: k and v have G heads, q has H; give every query "
                                     "head its group's keys before the product."))
    return _run("grouped-query attention", gqa, cases)


def check_pre_ln_block(block) -> Report:
    """Chapter 9: ``block(x, layer)``, the pre-LN encoder layer from ``layer``'s parts.

    ``layer`` is an :class:`attnlib.TransformerEncoderLayer` in eval mode; use its
    ``norm1``, ``self_attn``, ``norm2``, ``linear1``, ``linear2`` (ReLU between).
    The reference is the same layer with ``norm_first=True``.

    Shapes:
        - x: ``(B, L, E)``; returns ``(B, L, E)``
    """
    cases = []
    for B, L, E, H in [(1, 3, 4, 1), (2, 5, 8, 2), (3, 4, 16, 4)]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(B * 10 + L)
            layer = TransformerEncoderLayer(E, H, 2 * E, dropout=0.0).double().eval()
            with torch.no_grad():
                for p in layer.parameters():
                    p.add_(0.3 * torch.randn_like(p))
        x = torch.randn(B, L, E, generator=_gen(B + L + E), dtype=torch.float64)
        layer.norm_first = True
        expected = layer(x).detach()
        layer.norm_first = False
        post = layer(x).detach()
        h = layer.norm1(x)
        a = x + layer.self_attn(h, h, h, need_weights=False)[0]
        no_second_residual = layer.linear2(F.relu(layer.linear1(layer.norm2(a)))).detach()

        def diagnose(got, post=post, nsr=no_second_residual):
            if _close(got, post):
                return ("hint: that is post-LN, norm(x + sublayer(x)); pre-LN normalises the "
                        "sublayer's input: x + sublayer(norm(x)).")
            if _close(got, nsr):
                return "hint: add the feed-forward output to its input (the second residual)."
            return None
        cases.append(Case(f"x {(B, L, E)}, {plural(H, 'head')}", (x, layer), expected, diagnose,
                          rtol=1e-6, atol=1e-8))
    return _run("pre-LN block", block, cases)


__all__ = ["check_grouped_query_attention", "check_pre_ln_block", "check_rotary"]