"""Numerical stability: huge scores, half precision with masks, float64 end to end."""

import pytest
import torch
import torch.nn.functional as F

import attnlib


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("need_weights", [True, False])
def test_scores_of_magnitude_1e4_stay_finite(dtype, need_weights, device, gen):
    # scores of order 1e4: a naive exp() overflows; the max-subtracting softmax must not.
    # Keys are unit vectors and each query points at one of them, so the winning score
    # (1e4) beats the others by far more than bf16's rounding and the answer is known.
    best = torch.randint(0, 7, (2, 5), generator=gen)  # (B, L): the key each query picks
    k = torch.eye(7, 8).expand(2, 7, 8)
    q = 1e4 * k[0][best] + torch.randn(2, 5, 8, generator=gen)
    v = torch.randn(2, 7, 3, generator=gen)
    out, _ = attnlib.scaled_dot_product_attention(*(t.to(device, dtype) for t in (q, k, v)),
                                                  scale=1.0, need_weights=need_weights)
    assert torch.isfinite(out).all()
    expected = torch.gather(v.to(dtype).float(), 1, best[..., None].expand(-1, -1, 3))
    torch.testing.assert_close(out.float().cpu(), expected)


def test_masked_softmax_with_huge_scores_and_masks(gen):
    scores = torch.tensor([[1e4, -1e4, 5e3], [3e38, -3e38, 0.0]])
    mask = torch.tensor([[False, True, True], [True, True, False]])
    w = attnlib.masked_softmax(scores, mask)
    assert torch.isfinite(w).all()
    assert w.tolist() == [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]


@pytest.mark.parametrize("need_weights", [True, False])
def test_float16_masks_do_not_overflow(need_weights, device, gen):
    # float16 tops out at 65504: a mask written as "add -1e9" would become -inf + ... or NaN.
    q, k, v = (torch.randn(3, 6, 16, generator=gen) * 4 for _ in range(3))
    mask = torch.rand(3, 6, 6, generator=gen) < 0.5
    mask[0, 2] = False  # a fully masked row
    mask[:, :, 0] |= mask.any(-1)  # keep other rows non-empty
    half = [t.half().to(device) for t in (q, k, v)]
    out, w = attnlib.scaled_dot_product_attention(*half, mask.to(device), need_weights=need_weights)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    assert (out[0, 2] == 0).all()
    ref, _ = attnlib.scaled_dot_product_attention(q.double(), k.double(), v.double(), mask)
    torch.testing.assert_close(out.double().cpu(), ref, rtol=1e-2, atol=1e-2)
    if need_weights:
        assert (w.cpu()[~mask] == 0).all()


def test_float64_is_kept_end_to_end(gen):
    q, k, v = (torch.randn(2, 4, 6, 8, generator=gen, dtype=torch.float64) for _ in range(3))
    mask = torch.rand(6, 6, generator=gen) < 0.7
    mask[:, 0] = True
    out, w = attnlib.scaled_dot_product_attention(q, k, v, mask)
    assert out.dtype == w.dtype == torch.float64
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    # 1e-12 is far below float32's resolution: any float32 step on the way would show
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)
    add = attnlib.AdditiveAttention(8, 8, 5).double()
    out2, w2 = add(q[0], k[0], v[0], mask)
    assert out2.dtype == w2.dtype == torch.float64
    loc = attnlib.LocationAttention(8, 8, 6, 8, 4).double()
    out3, w3 = loc(q[0], k[0], v[0])
    assert out3.dtype == w3.dtype == torch.float64


def test_masked_softmax_gradcheck(gen):
    s = torch.randn(3, 4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(3, 4, 5, generator=gen) < 0.6
    mask[1, 1] = False
    assert torch.autograd.gradcheck(lambda x: attnlib.masked_softmax(x, mask), (s,))
