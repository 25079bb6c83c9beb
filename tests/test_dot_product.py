import pytest
import torch
import torch.nn.functional as F

from attnlib import causal_mask, scaled_dot_product_attention


def qkv(gen, lead=(2, 3), L=4, S=6, E=8, Ev=5, dtype=torch.float32, device="cpu"):
    q = torch.randn(*lead, L, E, generator=gen, dtype=dtype).to(device)
    k = torch.randn(*lead, S, E, generator=gen, dtype=dtype).to(device)
    v = torch.randn(*lead, S, Ev, generator=gen, dtype=dtype).to(device)
    return q, k, v


MASK_SHAPES = [None, (6,), (4, 6), (1, 6), (2, 1, 4, 6), (2, 3, 4, 6), (3, 1, 1)]


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("mask_shape", MASK_SHAPES)
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("scale", [None, 0.3])
def test_matches_torch_sdpa(need_weights, mask_shape, is_causal, scale, device, gen):
    q, k, v = qkv(gen, device=device)
    mask = None
    if mask_shape is not None:
        mask = (torch.rand(mask_shape, generator=gen) > 0.3).to(device)
    out, w = scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal, scale=scale,
                                          need_weights=need_weights)
    # torch refuses a mask together with is_causal, so the oracle gets them combined.
    oracle_mask = mask
    if is_causal:
        c = causal_mask(4, 6, device=device)
        oracle_mask = c if mask is None else mask & c
    if oracle_mask is not None:
        oracle_mask = oracle_mask.expand(2, 3, 4, 6)  # torch's SDPA wants a mask of 2-D or more
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=oracle_mask, scale=scale)
    torch.testing.assert_close(out, expected)
    if need_weights:
        assert w.shape == (2, 3, 4, 6)
        if oracle_mask is not None:
            assert torch.all(w[~oracle_mask] == 0)
    else:
        assert w is None


@pytest.mark.parametrize("lead", [(), (3,), (2, 3), (2, 1, 3)])
def test_any_number_of_leading_dims(lead, gen):
    q, k, v = qkv(gen, lead=lead, L=3, S=7)
    out, w = scaled_dot_product_attention(q, k, v)
    assert out.shape == (*lead, 3, 5) and w.shape == (*lead, 3, 7)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))


def test_default_scale_is_one_over_sqrt_E(gen):
    q, k, v = qkv(gen, E=16)
    _, w = scaled_dot_product_attention(q, k, v)
    _, w_quarter = scaled_dot_product_attention(q, k, v, scale=0.25)
    torch.testing.assert_close(w, w_quarter)
    # and the weights are the softmax of the written-out scores
    torch.testing.assert_close(w, torch.softmax(q @ k.transpose(-2, -1) / 4.0, dim=-1))


@pytest.mark.parametrize("need_weights", [True, False])
def test_fully_masked_rows_give_zero_weights_and_output(need_weights, device, gen):
    q, k, v = qkv(gen, device=device)
    mask = torch.ones(4, 6, dtype=torch.bool, device=device)
    mask[1] = False
    out, w = scaled_dot_product_attention(q, k, v, mask, need_weights=need_weights)
    assert not torch.isnan(out).any()
    assert torch.all(out[..., 1, :] == 0)
    if need_weights:
        assert torch.all(w[..., 1, :] == 0)
        torch.testing.assert_close(w[..., [0, 2, 3], :].sum(-1), torch.ones(2, 3, 3, device=device))


@pytest.mark.parametrize("need_weights", [True, False])
def test_float64_gradients_match_torch(need_weights, device, gen):
    q, k, v = qkv(gen, dtype=torch.float64, device=device)
    mask = (torch.rand(4, 6, generator=gen) > 0.3).to(device)
    mask[2] = False
    ours = [t.clone().requires_grad_() for t in (q, k, v)]
    theirs = [t.clone().requires_grad_() for t in (q, k, v)]
    g = torch.randn(2, 3, 4, 5, generator=gen, dtype=torch.float64).to(device)
    out, _ = scaled_dot_product_attention(*ours, mask, need_weights=need_weights)
    (out * g).sum().backward()
    expected = F.scaled_dot_product_attention(*theirs, attn_mask=mask)
    (expected * g).sum().backward()
    for a, b in zip(ours, theirs):
        assert not torch.isnan(a.grad).any()
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-7, atol=1e-7)


def test_gradcheck(gen):
    q, k, v = (t.requires_grad_() for t in qkv(gen, lead=(2,), dtype=torch.float64))
    mask = torch.rand(4, 6, generator=gen) > 0.3
    assert torch.autograd.gradcheck(
        lambda a, b, c: scaled_dot_product_attention(a, b, c, mask, is_causal=True)[0], (q, k, v))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("need_weights", [True, False])
def test_half_precision_with_mask_is_finite(dtype, need_weights, device, gen):
    q, k, v = qkv(gen, dtype=dtype, device=device)
    mask = (torch.rand(2, 1, 4, 6, generator=gen) > 0.5).to(device)
    mask[0, 0, 0] = False
    out, w = scaled_dot_product_attention(q, k, v, mask, need_weights=need_weights)
    assert out.dtype == dtype and torch.isfinite(out).all()
    expected = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask)
    torch.testing.assert_close(out.float(), expected, rtol=2e-2, atol=2e-2)


def test_causal_mask_is_top_left_aligned():
    m = causal_mask(2, 4)
    assert m.tolist() == [[True, False, False, False], [True, True, False, False]]


def test_self_attention_is_permutation_equivariant(gen):
    x = torch.randn(2, 6, 8, generator=gen)
    perm = torch.randperm(6, generator=gen)
    out, _ = scaled_dot_product_attention(x, x, x)
    out_p, _ = scaled_dot_product_attention(x[:, perm], x[:, perm], x[:, perm])
    torch.testing.assert_close(out_p, out[:, perm])


# ------------------------------------------------------------------ the causal fast path


@pytest.mark.parametrize("L,S", [(4, 4), (3, 7), (7, 3), (1, 5), (5, 1)])
def test_torch_is_causal_is_top_left_like_causal_mask(L, S, device, gen):
    # The fast path relies on this: torch's is_causal=True is the same triangle as
    # causal_mask(L, S), also when L != S (a bottom-right default would fail here).
    q, k, v = qkv(gen, L=L, S=S, dtype=torch.float64, device=device)
    torch.testing.assert_close(
        F.scaled_dot_product_attention(q, k, v, is_causal=True),
        F.scaled_dot_product_attention(q, k, v, attn_mask=causal_mask(L, S, device=device)))


class SpySDPA:
    """Stands in for F.scaled_dot_product_attention: records the keyword arguments."""

    def __init__(self):
        self.real = F.scaled_dot_product_attention
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append(kwargs)
        return self.real(*args, **kwargs)


@pytest.fixture
def spy(monkeypatch):
    s = SpySDPA()
    monkeypatch.setattr(F, "scaled_dot_product_attention", s)
    return s


@pytest.mark.parametrize("L,S", [(4, 4), (3, 7), (7, 3)])
def test_causal_without_mask_uses_torchs_causal_path(L, S, spy, device, gen):
    q, k, v = qkv(gen, L=L, S=S, dtype=torch.float64, device=device)
    ours = [t.clone().requires_grad_() for t in (q, k, v)]
    written = [t.clone().requires_grad_() for t in (q, k, v)]
    out, w = scaled_dot_product_attention(*ours, is_causal=True, need_weights=False)
    assert w is None
    assert len(spy.calls) == 1
    assert spy.calls[0].get("is_causal") is True and spy.calls[0].get("attn_mask") is None
    # the same values and gradients as the written-out rule with causal_mask(L, S)
    expected, _ = scaled_dot_product_attention(*written, causal_mask(L, S, device=device))
    assert len(spy.calls) == 1  # the written-out rule does not call torch's SDPA
    torch.testing.assert_close(out, expected)
    g = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(device)
    (out * g).sum().backward()
    (expected * g).sum().backward()
    for a, b in zip(ours, written):
        torch.testing.assert_close(a.grad, b.grad)


def test_causal_with_a_mask_combines_them(spy, gen):
    q, k, v = qkv(gen, dtype=torch.float64)
    mask = torch.rand(4, 6, generator=gen) > 0.3
    out, _ = scaled_dot_product_attention(q, k, v, mask, is_causal=True, need_weights=False)
    assert len(spy.calls) == 1 and not spy.calls[0].get("is_causal", False)
    assert torch.equal(spy.calls[0]["attn_mask"], mask & causal_mask(4, 6))
    expected, _ = scaled_dot_product_attention(q, k, v, mask & causal_mask(4, 6))
    torch.testing.assert_close(out, expected)
