"""Empty sizes: a batch of 0, no queries (L = 0) or no keys (S = 0).

The reference is PyTorch itself.  What torch 2.13's
``torch.nn.functional.scaled_dot_product_attention`` does, with or without
``is_causal``, with or without a boolean mask, on (B, H, L, S) =
(0, 2, 3, 5), (2, 2, 0, 5), (2, 2, 3, 0), (0, 2, 0, 0) and (2, 2, 0, 0):

- the output has shape (B, H, L, Ev): empty when B or L is 0, all zeros when
  only S is 0 (every query has nothing to attend to);
- with autograd, query, key and value all get a gradient of their own shape,
  and it is zero.

Every public function must do the same: the outputs and the gradients are
compared with torch's, and the gradients are also checked to be zero.
"""

import pytest
import torch
import torch.nn.functional as F

from attnlib import (AdditiveAttention, LocationAttention, MultiHeadAttention, causal_mask,
                     masked_softmax, scaled_dot_product_attention, sinusoidal_positional_encoding,
                     tiled_attention)

SIZES = [(0, 3, 5), (2, 0, 5), (2, 3, 0), (0, 0, 0), (2, 0, 0)]  # (B, L, S)
IDS = [f"B{B}-L{L}-S{S}" for B, L, S in SIZES]
H, E, Ev = 2, 4, 3


def qkv(B, L, S, device, *, heads=True, Ek=E, Evv=Ev):
    g = torch.Generator().manual_seed(0)
    lead = (B, H) if heads else (B,)
    return [torch.randn(*lead, n, d, generator=g, dtype=torch.float64).to(device)
            for n, d in ((L, E), (S, Ek), (S, Evv))]


def compare(ours, theirs, tensors, grad):
    """Run ``ours`` and ``theirs`` on copies of ``tensors``; compare outputs and gradients.

    With ``grad`` the inputs require gradients and both outputs are back-propagated
    with the same all-ones upstream gradient; every input must then get a gradient
    of its own shape, equal to torch's and equal to zero.  Without ``grad`` the calls
    run under ``torch.no_grad()``.
    """
    a = [t.clone().requires_grad_(grad) for t in tensors]
    b = [t.clone().requires_grad_(grad) for t in tensors]
    with torch.set_grad_enabled(grad):
        out, ref = ours(*a), theirs(*b)
    torch.testing.assert_close(out, ref)  # also compares shapes, dtypes and devices
    if ref.numel():
        assert torch.all(ref == 0)  # only S = 0 leaves anything, and it is zero
    if grad:
        out.backward(torch.ones_like(out))
        ref.backward(torch.ones_like(ref))
        for x, y in zip(a, b):
            assert x.grad is not None and y.grad is not None
            torch.testing.assert_close(x.grad, y.grad)
            assert x.grad.shape == x.shape and torch.all(x.grad == 0)
    return out


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "autograd"])
@pytest.mark.parametrize("is_causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("B,L,S", SIZES, ids=IDS)
def test_torch_sdpa_reference_is_empty_or_zero(B, L, S, is_causal, grad, device):
    # What every test below compares with: checked here on its own, with no attnlib code.
    q, k, v = qkv(B, L, S, device)
    ref = F.scaled_dot_product_attention(*(t.requires_grad_(grad) for t in (q, k, v)),
                                         is_causal=is_causal)
    assert ref.shape == (B, H, L, Ev)
    assert torch.all(ref == 0)
    if grad:
        ref.sum().backward()
        assert all(t.grad.shape == t.shape and torch.all(t.grad == 0) for t in (q, k, v))


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "autograd"])
@pytest.mark.parametrize("need_weights", [True, False], ids=["weights", "fused"])
@pytest.mark.parametrize("mask", [False, True], ids=["no_mask", "mask"])
@pytest.mark.parametrize("is_causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("B,L,S", SIZES, ids=IDS)
def test_scaled_dot_product_attention(B, L, S, is_causal, mask, need_weights, grad, device):
    m = torch.ones(L, S, dtype=torch.bool, device=device) if mask else None
    weights = []

    def ours(q, k, v):
        out, w = scaled_dot_product_attention(q, k, v, m, is_causal=is_causal,
                                              need_weights=need_weights)
        weights.append(w)
        return out

    # torch takes a mask or is_causal, not both; attnlib combines them, so give torch the
    # combined mask (all-True & causal = the causal mask itself).
    m_torch = causal_mask(L, S, device=device) if mask and is_causal else m

    def theirs(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=m_torch,
                                              is_causal=is_causal and not mask)

    compare(ours, theirs, qkv(B, L, S, device), grad)
    if need_weights:
        assert weights[0].shape == (B, H, L, S)  # every such tensor is empty: one size is 0
    else:
        assert weights[0] is None


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "autograd"])
@pytest.mark.parametrize("is_causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("B,L,S", SIZES, ids=IDS)
def test_tiled_attention(B, L, S, is_causal, grad, device):
    def ours(q, k, v):
        return tiled_attention(q, k, v, block_size=2, is_causal=is_causal)

    def theirs(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)

    compare(ours, theirs, qkv(B, L, S, device), grad)


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "autograd"])
@pytest.mark.parametrize("is_causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("B,L,S", SIZES, ids=IDS)
def test_masked_softmax(B, L, S, is_causal, grad, device):
    # The weights themselves are empty; what they give, weights @ value, is compared.
    def ours(q, k, v):
        mask = causal_mask(L, S, device=device) if is_causal else None
        weights = masked_softmax(q @ k.transpose(-2, -1) / E ** 0.5, mask)
        assert weights.shape == (B, H, L, S)
        return weights @ v

    def theirs(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)

    compare(ours, theirs, qkv(B, L, S, device), grad)


@pytest.mark.parametrize("L,S", [(0, 0), (0, 4), (3, 0)])
def test_causal_mask_accepts_zero(L, S, device):
    m = causal_mask(L, S, device=device)
    assert m.shape == (L, S) and m.dtype == torch.bool and m.device.type == device.type
    q, k, v = qkv(1, L, S, device)
    torch.testing.assert_close(F.scaled_dot_product_attention(q, k, v, attn_mask=m),
                               F.scaled_dot_product_attention(q, k, v, is_causal=True))


@pytest.mark.parametrize("dim", [1, 6, 7])
def test_positional_encoding_of_no_position(dim):
    pe = sinusoidal_positional_encoding(0, dim, dtype=torch.float64)
    assert pe.shape == (0, dim) and pe.dtype == torch.float64
    # the empty table is the first 0 rows of a longer one, and adds to a (B, 0, dim) input
    torch.testing.assert_close(pe, sinusoidal_positional_encoding(5, dim, dtype=torch.float64)[:0])
    assert (torch.zeros(3, 0, dim, dtype=torch.float64) + pe).shape == (3, 0, dim)


def params_grads_are_zero(module):
    for name, p in module.named_parameters():
        assert p.grad is not None, name
        assert torch.all(p.grad == 0), name


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "autograd"])
@pytest.mark.parametrize("chunk", [None, 2], ids=["one_shot", "chunks_of_2"])
@pytest.mark.parametrize("mask", [False, True], ids=["no_mask", "mask"])
@pytest.mark.parametrize("B,L,S", SIZES, ids=IDS)
def test_additive_attention(B, L, S, mask, chunk, grad, device):
    # Rule 2's scores differ from rule 3's, but with an empty size no score is ever used:
    # the output must be what torch's SDPA gives for the same shapes (empty or zero).
    torch.manual_seed(0)
    module = AdditiveAttention(E, 5, 6).double().to(device)
    torch.nn.init.normal_(module.w_query.bias)
    m = torch.ones(B, 1, S, dtype=torch.bool, device=device) if mask else None
    weights = []

    def ours(q, k, v):
        out, w = module(q, k, v, m, query_chunk_size=chunk)
        weights.append(w)
        return out

    def theirs(q, k, v):  # SDPA needs one E for query and key: keep key's first E features
        return F.scaled_dot_product_attention(q, k[..., :E], v)

    module.zero_grad(set_to_none=True)
    compare(ours, theirs, qkv(B, L, S, device, heads=False, Ek=5), grad)
    assert weights[0].shape == (B, L, S)
    if grad:
        params_grads_are_zero(module)


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "autograd"])
@pytest.mark.parametrize("B,L", [(0, 3), (2, 0), (0, 0)])
def test_location_attention(B, L, grad, device):
    # Rule 1 has a fixed number of positions (value_size1 = 5 here), so only B and L can
    # be 0.  As with torch's SDPA, no row means an empty output and weights, and every
    # input and parameter gets a gradient of its own shape that is zero.
    torch.manual_seed(0)
    module = LocationAttention(4, 3, 5, 2, 6).double().to(device)
    g = torch.Generator().manual_seed(0)
    Q, K = (torch.randn(B, L, d, generator=g, dtype=torch.float64).to(device) for d in (4, 3))
    V = torch.randn(B, 5, 2, generator=g, dtype=torch.float64).to(device)
    inputs = [t.clone().requires_grad_(grad) for t in (Q, K, V)]
    with torch.set_grad_enabled(grad):
        out, weights = module(*inputs)
    assert out.shape == (B, L, 6) and weights.shape == (B, L, 5)
    if grad:
        out.backward(torch.ones_like(out))
        for x in inputs:
            assert x.grad is not None and x.grad.shape == x.shape and torch.all(x.grad == 0)
        params_grads_are_zero(module)


def test_location_attention_s_is_fixed():
    module = LocationAttention(4, 3, 5, 2, 6)
    with pytest.raises(ValueError, match=r"`V` must have value_size1 rows \(dim 1\) = 5; "
                                         r"got shape \(2, 0, 2\)"):
        module(torch.randn(2, 3, 4), torch.randn(2, 3, 3), torch.randn(2, 0, 2))
    with pytest.raises(ValueError, match=r"`value_size1` must be a positive int; got 0"):
        LocationAttention(4, 3, 0, 2, 6)


@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "autograd"])
@pytest.mark.parametrize("need_weights", [True, False], ids=["weights", "fused"])
@pytest.mark.parametrize("is_causal", [False, True], ids=["full", "causal"])
@pytest.mark.parametrize("B,L,S", SIZES, ids=IDS)
def test_multihead_attention(B, L, S, is_causal, need_weights, grad, device):
    # Against torch.nn.MultiheadAttention with the same weights; its boolean attn_mask
    # means "may NOT attend", so the causal mask is passed negated.  With S = 0 every
    # head is zero and the output is out_proj.bias, in both.
    torch.manual_seed(0)
    ours_m = MultiHeadAttention(4, 2).double().to(device)
    torch.nn.init.normal_(ours_m.out_proj.bias)
    torch.nn.init.normal_(ours_m.in_proj_bias)
    theirs_m = torch.nn.MultiheadAttention(4, 2, batch_first=True).double().to(device)
    theirs_m.load_state_dict(ours_m.state_dict())
    g = torch.Generator().manual_seed(0)
    q = torch.randn(B, L, 4, generator=g, dtype=torch.float64).to(device)
    k, v = (torch.randn(B, S, 4, generator=g, dtype=torch.float64).to(device) for _ in range(2))
    weights = []

    def ours(q, k, v):
        out, w = ours_m(q, k, v, need_weights=need_weights, is_causal=is_causal)
        weights.append(w)
        return out

    def theirs(q, k, v):
        m = ~causal_mask(L, S, device=device) if is_causal else None
        return theirs_m(q, k, v, attn_mask=m, need_weights=False)[0]

    a = [t.clone().requires_grad_(grad) for t in (q, k, v)]
    b = [t.clone().requires_grad_(grad) for t in (q, k, v)]
    for mod in (ours_m, theirs_m):
        mod.zero_grad(set_to_none=True)
    with torch.set_grad_enabled(grad):
        out, ref = ours(*a), theirs(*b)
    torch.testing.assert_close(out, ref)
    assert out.shape == (B, L, 4)
    if S == 0 and B * L:
        torch.testing.assert_close(out, ours_m.out_proj.bias.detach().expand(B, L, 4))
    assert weights[0] is None if not need_weights else weights[0].shape == (B, H, L, S)
    if grad:
        out.backward(torch.ones_like(out))
        ref.backward(torch.ones_like(ref))
        for x, y in zip(a, b):
            torch.testing.assert_close(x.grad, y.grad)
            assert x.grad.shape == x.shape and torch.all(x.grad == 0)
        theirs_grads = dict(theirs_m.named_parameters())
        for name, p in ours_m.named_parameters():
            torch.testing.assert_close(p.grad, theirs_grads[name].grad)
