"""Property-based tests: random shapes, masks, scales and dtypes for every rule.

Each property is a fact that holds for *every* valid input, so hypothesis may
try any of them.  Example counts are set per test (see EXAMPLES) and printed
with ``pytest --hypothesis-show-statistics``.
"""

import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import attnlib

EXAMPLES = 300
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])
DTYPES = [torch.float32, torch.float64, torch.bfloat16, torch.float16]
TOL = {torch.float64: 1e-10, torch.float32: 1e-5, torch.bfloat16: 2e-2, torch.float16: 2e-3}


@st.composite
def attention_inputs(draw, max_lead=2, dtypes=DTYPES):
    """query (..., L, E), key (..., S, E), value (..., S, Ev), mask broadcastable or None."""
    lead = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=max_lead)))
    L, S = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    E, Ev = draw(st.integers(1, 9)), draw(st.integers(1, 6))
    dtype = draw(st.sampled_from(dtypes))
    seed = draw(st.integers(0, 2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    spread = draw(st.sampled_from([0.1, 1.0, 10.0]))
    q = (torch.randn(*lead, L, E, generator=gen) * spread).to(dtype)
    k = torch.randn(*lead, S, E, generator=gen).to(dtype)
    v = torch.randn(*lead, S, Ev, generator=gen).to(dtype)
    mask = None
    kind = draw(st.sampled_from(["none", "full", "keys", "rows", "dense"]))
    if kind == "full":
        mask = torch.rand(*lead, L, S, generator=gen) < draw(st.floats(0.0, 1.0))
    elif kind == "keys":  # padding-style: broadcast over queries
        mask = torch.rand(*lead, 1, S, generator=gen) < 0.7
    elif kind == "rows":
        mask = torch.rand(L, 1, generator=gen) < 0.7
    elif kind == "dense":
        mask = torch.rand(L, S, generator=gen) < 0.5
    return q, k, v, mask


def check_weights(w, mask, shape, dtype):
    """The facts every attention weight tensor must satisfy."""
    assert w.shape == shape and w.dtype == dtype
    assert not torch.isnan(w).any()
    assert (w >= 0).all()
    allowed = torch.ones(shape, dtype=torch.bool) if mask is None else mask.expand(shape)
    assert (w[~allowed] == 0).all(), "masked keys must get exactly 0"
    has_key = allowed.any(-1)
    sums = w.double().sum(-1)
    assert torch.allclose(sums[has_key], torch.ones_like(sums[has_key]), atol=TOL[dtype] * 10)
    assert (sums[~has_key] == 0).all(), "fully masked rows must be all zero"
    return has_key


@SETTINGS
@given(attention_inputs(), st.one_of(st.none(), st.floats(0.05, 4.0)), st.booleans())
def test_rule3_weights_and_output(inputs, scale, is_causal):
    q, k, v, mask = inputs
    out, w = attnlib.scaled_dot_product_attention(q, k, v, mask, scale=scale, is_causal=is_causal)
    L, S = q.shape[-2], k.shape[-2]
    full = mask
    if is_causal:
        c = attnlib.causal_mask(L, S)
        full = c if mask is None else mask & c
    has_key = check_weights(w, full, (*q.shape[:-1], S), q.dtype)
    assert torch.isfinite(out).all()
    assert (out[~has_key] == 0).all()
    # the fused path and torch's own SDPA agree with the written-out one
    fused, none = attnlib.scaled_dot_product_attention(q, k, v, mask, scale=scale,
                                                       is_causal=is_causal, need_weights=False)
    assert none is None
    tol = TOL[q.dtype] * 20
    torch.testing.assert_close(fused, out, rtol=tol, atol=tol)
    oracle_mask = None if full is None else full.expand(*q.shape[:-1], S)
    expected = F.scaled_dot_product_attention(q.double(), k.double(), v.double(),
                                              attn_mask=oracle_mask, scale=scale)
    torch.testing.assert_close(out.double(), expected, rtol=tol, atol=tol)


@SETTINGS
@given(attention_inputs(max_lead=1))
def test_rule3_self_attention_is_permutation_equivariant(inputs):
    x = inputs[0].double()  # (..., L, E) used as query, key and value
    L = x.shape[-2]
    perm = torch.randperm(L, generator=torch.Generator().manual_seed(L))
    out, _ = attnlib.scaled_dot_product_attention(x, x, x)
    out_p, _ = attnlib.scaled_dot_product_attention(x[..., perm, :], x[..., perm, :],
                                                    x[..., perm, :])
    torch.testing.assert_close(out_p, out[..., perm, :])


@SETTINGS
@given(attention_inputs(max_lead=0, dtypes=[torch.float32, torch.float64]),
       st.integers(1, 12))
def test_rule2_weights_and_equivariance(inputs, hidden):
    q, k, v, mask = inputs
    q, k, v = q[None], k[None], v[None]  # rule 2 takes (B, L, E), (B, S, E), (B, S, Ev)
    torch.manual_seed(hidden)
    m = attnlib.AdditiveAttention(q.shape[-1], k.shape[-1], hidden).to(q.dtype)
    with torch.no_grad():
        out, w = m(q, k, v, mask)
        has_key = check_weights(w, mask, (1, q.shape[1], k.shape[1]), q.dtype)
        assert (out[~has_key] == 0).all() and torch.isfinite(out).all()
        # permuting the keys (with their values and mask columns) permutes the weights
        S = k.shape[1]
        perm = torch.randperm(S, generator=torch.Generator().manual_seed(S))
        mask_p = None if mask is None else mask.expand(1, q.shape[1], S)[..., perm]
        out_p, w_p = m(q, k[:, perm], v[:, perm], mask_p)
    torch.testing.assert_close(w_p, w[..., perm], rtol=TOL[q.dtype] * 10, atol=TOL[q.dtype] * 10)
    torch.testing.assert_close(out_p, out, rtol=TOL[q.dtype] * 10, atol=TOL[q.dtype] * 10)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 5), st.integers(1, 5),
       st.integers(1, 6), st.integers(1, 5), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_rule1_weights_and_batch_independence(B, L, qs, ks, v1, v2, out_size, seed):
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    m = attnlib.LocationAttention(qs, ks, v1, v2, out_size)
    Q, K, V = (torch.randn(B, L, qs, generator=gen), torch.randn(B, L, ks, generator=gen),
               torch.randn(B, v1, v2, generator=gen))
    with torch.no_grad():
        out, w = m(Q, K, V)
        check_weights(w, None, (B, L, v1), torch.float32)
        assert out.shape == (B, L, out_size)
        # each item depends on its own inputs only
        for b in range(B):
            out_b, w_b = m(Q[b:b + 1], K[b:b + 1], V[b:b + 1])
            torch.testing.assert_close(out_b, out[b:b + 1])
            torch.testing.assert_close(w_b, w[b:b + 1])


@SETTINGS
@given(st.lists(st.integers(1, 5), min_size=1, max_size=3), st.integers(0, 2**31 - 1),
       st.sampled_from(DTYPES), st.sampled_from([1.0, 100.0, 1e4]))
def test_masked_softmax(shape, seed, dtype, magnitude):
    gen = torch.Generator().manual_seed(seed)
    scores = (torch.randn(*shape, generator=gen) * magnitude).to(dtype)
    mask = torch.rand(*shape, generator=gen) < 0.6
    w = attnlib.masked_softmax(scores, mask)
    check_weights(w, mask, tuple(shape), dtype)



@SETTINGS
@given(attention_inputs(dtypes=[torch.float32, torch.float64]), st.integers(1, 9), st.booleans(),
       st.one_of(st.none(), st.floats(0.05, 4.0)))
def test_tiled_equals_torch_sdpa(inputs, block_size, is_causal, scale):
    q, k, v, _ = inputs  # tiled_attention takes no mask; any block size, L != S allowed
    out = attnlib.tiled_attention(q, k, v, block_size=block_size, is_causal=is_causal, scale=scale)
    expected = F.scaled_dot_product_attention(q.double(), k.double(), v.double(),
                                              is_causal=is_causal, scale=scale)
    tol = TOL[q.dtype] * 20
    torch.testing.assert_close(out.double(), expected, rtol=tol, atol=tol)


@SETTINGS
@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 6), st.sampled_from([(8, 1), (8, 2), (8, 4), (12, 3)]),
       st.sampled_from(["none", "2d", "3d", "4d"]), st.booleans(), st.integers(0, 2**31 - 1))
def test_multihead_equals_torch_module(B, L, S, sizes, mask_kind, bias, seed):
    E, H = sizes
    torch.manual_seed(seed)
    theirs = torch.nn.MultiheadAttention(E, H, bias=bias, batch_first=True).double()
    ours = attnlib.MultiHeadAttention(E, H, bias=bias).double()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(B, L, E, generator=gen, dtype=torch.float64)
    kv = torch.randn(B, S, E, generator=gen, dtype=torch.float64)
    shape = {"none": None, "2d": (L, S), "3d": (B, L, S), "4d": (B, H, L, S)}[mask_kind]
    mask = None
    if shape is not None:
        mask = torch.rand(*shape, generator=gen) < 0.7
        mask[..., 0] = True  # torch gives NaN for a fully masked row; ours gives zeros
    torch_mask = None  # torch: True = may NOT attend, and (L, S) or (B*H, L, S)
    if mask is not None:
        per_head = mask if mask.dim() != 3 else mask[:, None]  # a 3-D mask applies to every head
        torch_mask = ~(mask if mask.dim() == 2 else per_head.expand(B, H, L, S).reshape(B * H, L, S))
    with torch.no_grad():
        out, w = ours(q, kv, kv, mask)
        t_out, t_w = theirs(q, kv, kv, attn_mask=torch_mask, average_attn_weights=False)
    torch.testing.assert_close(out, t_out, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(w, t_w, rtol=1e-10, atol=1e-10)
