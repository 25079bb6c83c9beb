"""apply_rotary: the rotation written out, the relative property, gradcheck, errors."""

import math

import pytest
import torch

from attnlib import apply_rotary, sinusoidal_positional_encoding
from attnlib.rotary import RotaryMultiHeadAttention

TIGHT = dict(rtol=1e-10, atol=1e-10)


def by_hand(x, offset=0, base=10000.0):
    """Pair (2i, 2i+1) at position m rotated by (offset + m) * base**(-2i/E), one 2x2 at a time."""
    out = torch.empty_like(x)
    L, E = x.shape[-2], x.shape[-1]
    for m in range(L):
        for i in range(E // 2):
            a = (offset + m) * base ** (-2 * i / E)
            R = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]],
                             dtype=x.dtype)
            out[..., m, 2 * i:2 * i + 2] = x[..., m, 2 * i:2 * i + 2] @ R.T
    return out


@pytest.mark.parametrize("shape,offset,base", [((4, 2), 0, 10000.0), ((2, 5, 8), 3, 10000.0),
                                               ((2, 3, 4, 6), 0, 100.0)])
def test_equals_the_rotation_written_out(shape, offset, base):
    x = torch.randn(shape, dtype=torch.float64)
    before = x.clone()
    torch.testing.assert_close(apply_rotary(x, offset=offset, base=base),
                               by_hand(x, offset, base), **TIGHT)
    assert torch.equal(x, before)


def test_float32_and_non_contiguous_and_half():
    x = torch.randn(2, 6, 3, 8).transpose(1, 2)  # (2, 3, 6, 8), not contiguous
    torch.testing.assert_close(apply_rotary(x), by_hand(x.double()).float())
    y = apply_rotary(x.half())
    assert y.dtype == torch.float16
    torch.testing.assert_close(y.float(), by_hand(x.double()).float(), rtol=1e-2, atol=1e-2)


def test_offset_continues_the_positions():
    x = torch.randn(7, 8, dtype=torch.float64)
    torch.testing.assert_close(apply_rotary(x)[4:], apply_rotary(x[4:], offset=4), **TIGHT)


def test_scores_depend_only_on_the_offset():
    """q_m . k_n for one q and one k placed at every pair of positions: constant along m - n."""
    gen = torch.Generator().manual_seed(0)
    E, L = 16, 12
    q, k = torch.randn(E, generator=gen, dtype=torch.float64), torch.randn(E, generator=gen,
                                                                           dtype=torch.float64)
    Q, K = apply_rotary(q.expand(L, E)), apply_rotary(k.expand(L, E))
    scores = Q @ K.T  # (L, L): entry (m, n) = R(m) q . R(n) k
    for d in range(-L + 1, L):
        diag = torch.diagonal(scores, d)
        torch.testing.assert_close(diag, diag[:1].expand_as(diag), **TIGHT)
    # and it equals q . R(n - m) k
    torch.testing.assert_close(scores[2, 7], q @ apply_rotary(k.expand(6, E))[5], **TIGHT)
    assert scores.diagonal(1).std() > 0 or scores[0, 1] != scores[0, 0]  # not trivially constant


def test_same_frequencies_as_sinusoidal_encoding():
    """Rotating (0, 1) gives (cos, sin) of the angles in chapter 7's table."""
    L, E = 5, 8
    x = torch.zeros(L, E, dtype=torch.float64)
    x[:, 0::2] = 1.0
    pe = sinusoidal_positional_encoding(L, E, dtype=torch.float64)
    r = apply_rotary(x)
    torch.testing.assert_close(r[:, 0::2], pe[:, 1::2], **TIGHT)  # cos
    torch.testing.assert_close(r[:, 1::2], pe[:, 0::2], **TIGHT)  # sin


def test_gradcheck():
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: apply_rotary(x, offset=2), (x,))


def test_errors():
    with pytest.raises(ValueError, match=r"`x` must have an even last dim E \(pairs rotate\); got shape \(3, 5\)"):
        apply_rotary(torch.randn(3, 5))
    with pytest.raises(ValueError, match="`x` must be at least 2-D"):
        apply_rotary(torch.randn(4))
    with pytest.raises(TypeError, match="`x` must be a floating-point tensor"):
        apply_rotary(torch.ones(3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="`offset` must be an int >= 0"):
        apply_rotary(torch.randn(3, 4), offset=-1)
    with pytest.raises(ValueError, match="`base` must be a positive"):
        apply_rotary(torch.randn(3, 4), base=0.0)
    with pytest.raises(ValueError, match="even head size"):
        RotaryMultiHeadAttention(6, 2)


def test_rotary_attention_written_out():
    """RotaryMultiHeadAttention = project, split heads, rotate q and k, rule 3, merge, project."""
    torch.manual_seed(0)
    mha = RotaryMultiHeadAttention(8, 2).double()
    with torch.no_grad():
        mha.in_proj_bias.normal_()
    x = torch.randn(2, 6, 8, dtype=torch.float64)
    keep = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])[:, None, :]  # (B, 1, S)
    out, w = mha(x, x, x, keep, is_causal=True)
    q, k, v = (mha._split_heads(t) for t in
               (x @ mha.in_proj_weight.T + mha.in_proj_bias).chunk(3, dim=-1))
    scores = apply_rotary(q) @ apply_rotary(k).transpose(-2, -1) / 2.0  # sqrt(E/H) = 2
    allowed = keep[:, None] & torch.ones(6, 6, dtype=torch.bool).tril()
    weights = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    torch.testing.assert_close(w, weights, **TIGHT)
    torch.testing.assert_close(out, mha.out_proj(mha._merge_heads(weights @ v)), **TIGHT)
    fast, none = mha(x, x, x, keep, need_weights=False, is_causal=True)
    assert none is None
    torch.testing.assert_close(fast, out, **TIGHT)
