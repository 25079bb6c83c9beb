"""MultiHeadAttention: equal to torch.nn.MultiheadAttention with copied weights, and its errors.

torch's module is the oracle (batch_first=True).  Two conventions differ and are
translated in `torch_mask`: torch's boolean ``attn_mask`` means True = NOT allowed
(ours: True = may attend) and wants ``(L, S)`` or ``(B*H, L, S)``; and with
``need_weights=True`` torch averages the weights over heads unless
``average_attn_weights=False``.  torch gives NaN on a query whose keys are all
masked, so the comparisons keep at least one key per query, and that case is
tested on ours alone.
"""

import pytest
import torch
from torch import nn

from attnlib import MultiHeadAttention, causal_mask

B, L, S, E, H = 2, 4, 5, 8, 2
TIGHT = dict(rtol=1e-10, atol=1e-10)  # float64
DEFAULT = {}  # float32: assert_close's defaults


def pair(device, dtype=torch.float64, bias=True, embed_dim=E, num_heads=H, seed=0):
    """(ours, torch's) with the same weights, copied with strict=True."""
    torch.manual_seed(seed)
    theirs = nn.MultiheadAttention(embed_dim, num_heads, bias=bias, batch_first=True)
    theirs = theirs.to(device=device, dtype=dtype)
    if bias:  # torch starts its biases at 0; make them count
        with torch.no_grad():
            theirs.in_proj_bias.normal_()
            theirs.out_proj.bias.normal_()
    ours = MultiHeadAttention(embed_dim, num_heads, bias=bias).to(device=device, dtype=dtype)
    result = ours.load_state_dict(theirs.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return ours, theirs


def inputs(gen, device, dtype=torch.float64, Lq=L, Sk=S):
    q = torch.randn(B, Lq, E, generator=gen, dtype=dtype).to(device)
    k = torch.randn(B, Sk, E, generator=gen, dtype=dtype).to(device)
    v = torch.randn(B, Sk, E, generator=gen, dtype=dtype).to(device)
    return q, k, v


def make_mask(kind, gen, device):
    """(our mask, torch's keyword arguments) for one kind of mask; no row fully masked."""
    if kind is None:
        return None, {}
    if kind == "causal":
        m = causal_mask(L, S, device=device)
        return m, {"attn_mask": ~m}
    if kind == "key_padding":
        lengths = torch.tensor([S, 2])
        keep = torch.arange(S)[None, :] < lengths[:, None]  # (B, S)
        keep = keep.to(device)
        return keep[:, None, :], {"key_padding_mask": ~keep}  # ours: (B, 1, S), a 3-D mask
    shape = {"2d": (L, S), "3d": (B, L, S), "4d": (B, H, L, S)}[kind]
    m = torch.rand(shape, generator=gen) > 0.4
    m[..., 0] = True  # every query keeps one key, so torch has no NaN row
    m = m.to(device)
    if kind == "2d":
        theirs = ~m
    elif kind == "3d":  # torch wants (B*H, L, S), batch-major: index b*H + h
        theirs = ~m.repeat_interleave(H, dim=0)  # (B, L, S) -> (B*H, L, S)
    else:
        theirs = ~m.reshape(B * H, L, S)  # (B, H, L, S) -> (B*H, L, S)
    return m, {"attn_mask": theirs}


MASKS = [None, "2d", "3d", "4d", "key_padding", "causal"]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("kind", MASKS)
def test_matches_torch_multihead_attention(kind, need_weights, bias, dtype, device, gen):
    ours, theirs = pair(device, dtype, bias)
    q, k, v = inputs(gen, device, dtype)
    mask, kwargs = make_mask(kind, gen, device)
    out, w = ours(q, k, v, mask, need_weights=need_weights)
    expected, expected_w = theirs(q, k, v, need_weights=need_weights,
                                  average_attn_weights=False, **kwargs)
    tol = TIGHT if dtype == torch.float64 else DEFAULT
    assert out.shape == (B, L, E) and out.dtype == dtype
    torch.testing.assert_close(out, expected, **tol)
    if need_weights:
        assert w.shape == (B, H, L, S)
        torch.testing.assert_close(w, expected_w, **tol)
        if mask is not None:
            allowed = (mask[:, None] if mask.dim() == 3 else mask).expand(B, H, L, S)
            assert torch.all(w[~allowed] == 0)
    else:
        assert w is None


def test_state_dict_keys_and_shapes_are_torchs():
    for bias in (True, False):
        ours = MultiHeadAttention(E, H, bias=bias)
        theirs = nn.MultiheadAttention(E, H, bias=bias, batch_first=True)
        a, b = ours.state_dict(), theirs.state_dict()
        assert list(a) == list(b)
        assert all(a[name].shape == b[name].shape for name in a)
    assert MultiHeadAttention(E, H).in_proj_weight.shape == (3 * E, E)
    assert MultiHeadAttention(E, H, bias=False).in_proj_bias is None


def test_torch_loads_ours_too(gen):
    ours = MultiHeadAttention(E, H)
    theirs = nn.MultiheadAttention(E, H, batch_first=True)
    theirs.load_state_dict(ours.state_dict(), strict=True)
    q, k, v = inputs(gen, "cpu", torch.float32)
    torch.testing.assert_close(ours(q, k, v)[0], theirs(q, k, v)[0])


def test_initialisation_follows_torch():
    m = MultiHeadAttention(16, 4)
    assert torch.all(m.in_proj_bias == 0) and torch.all(m.out_proj.bias == 0)
    bound = (6 / (16 + 3 * 16)) ** 0.5  # xavier_uniform_ on (3E, E)
    assert m.in_proj_weight.abs().max() <= bound


def test_averaged_weights_match_torch_default(device, gen):
    ours, theirs = pair(device)
    q, k, v = inputs(gen, device)
    _, w = ours(q, k, v)
    _, averaged = theirs(q, k, v)  # average_attn_weights=True by default
    torch.testing.assert_close(w.mean(dim=1), averaged, **TIGHT)


@pytest.mark.parametrize("kind", [None, "3d", "causal"])
def test_self_attention_matches_torch_fast_path(kind, gen):
    """query is key is value, eval mode, no grad: torch may take its fused fast path."""
    ours, theirs = pair("cpu", torch.float32)
    ours.eval(), theirs.eval()
    x = torch.randn(B, L, E, generator=gen)
    mask = None if kind is None else make_mask(kind, gen, "cpu")[0][..., :L]
    kwargs = {} if mask is None else {"attn_mask": ~(mask.repeat_interleave(H, 0)
                                                     if mask.dim() == 3 else mask)}
    with torch.no_grad():
        out, _ = ours(x, x, x, mask, need_weights=False)
        expected, _ = theirs(x, x, x, need_weights=False, **kwargs)
    torch.testing.assert_close(out, expected)


def test_each_head_is_rule_3_on_its_slice(gen):
    """An oracle that is not torch's module: one head at a time, softmax written out."""
    m = MultiHeadAttention(E, H).double()
    with torch.no_grad():
        m.in_proj_bias.normal_()
    q, k, v = inputs(gen, "cpu")
    mask = make_mask("4d", gen, "cpu")[0]
    out, w = m(q, k, v, mask)
    d = E // H
    Wq, Wk, Wv = m.in_proj_weight.detach().chunk(3)
    bq, bk, bv = m.in_proj_bias.detach().chunk(3)
    heads = []
    for h in range(H):
        rows = slice(h * d, (h + 1) * d)  # head h owns features h*d .. (h+1)*d - 1
        qh = q @ Wq[rows].T + bq[rows]  # (B, L, d)
        kh = k @ Wk[rows].T + bk[rows]  # (B, S, d)
        vh = v @ Wv[rows].T + bv[rows]  # (B, S, d)
        scores = (qh @ kh.transpose(1, 2)) / d ** 0.5  # (B, L, S)
        scores = scores.masked_fill(~mask[:, h], float("-inf"))
        wh = torch.softmax(scores, dim=-1)
        torch.testing.assert_close(w[:, h], wh, **TIGHT)
        heads.append(wh @ vh)  # (B, L, d)
    expected = m.out_proj(torch.cat(heads, dim=-1))  # (B, L, H*d) -> (B, L, E)
    torch.testing.assert_close(out, expected, **TIGHT)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("need_weights", [True, False])
def test_fully_masked_row_gives_zero_weights_not_nan(bias, need_weights, device, gen):
    m = MultiHeadAttention(E, H, bias=bias).to(device)
    if bias:
        with torch.no_grad():
            m.out_proj.bias.normal_()
    q, k, v = inputs(gen, device, torch.float32)
    mask = torch.ones(B, L, S, dtype=torch.bool, device=device)
    mask[1, 2] = False  # batch item 1, query 2: no key at all
    out, w = m(q, k, v, mask, need_weights=need_weights)
    assert torch.isfinite(out).all()
    # all heads give zero, so the output is what out_proj makes of a zero vector: its bias
    expected_row = m.out_proj.bias if bias else torch.zeros(E, device=device)
    torch.testing.assert_close(out[1, 2], expected_row.detach())
    if need_weights:
        assert torch.all(w[1, :, 2] == 0)
        torch.testing.assert_close(w[0].sum(-1), torch.ones(H, L, device=device))
    # the other rows are unaffected
    mask_other = mask.clone()
    mask_other[1, 2] = True
    out_other, _ = m(q, k, v, mask_other, need_weights=need_weights)
    keep = torch.ones(B, L, dtype=torch.bool)
    keep[1, 2] = False
    torch.testing.assert_close(out[keep.to(device)], out_other[keep.to(device)])


def test_fully_masked_row_has_finite_gradients(gen):
    m = MultiHeadAttention(E, H).double()
    q, k, v = (t.requires_grad_() for t in inputs(gen, "cpu"))
    mask = torch.ones(L, S, dtype=torch.bool)
    mask[0] = False
    m(q, k, v, mask)[0].sum().backward()
    for t in (q, k, v, m.in_proj_weight, m.out_proj.weight):
        assert torch.isfinite(t.grad).all()


@pytest.mark.parametrize("need_weights", [True, False])
def test_gradcheck(need_weights, gen):
    m = MultiHeadAttention(E, H).double()
    q, k, v = (t.requires_grad_() for t in inputs(gen, "cpu"))
    mask = make_mask("3d", gen, "cpu")[0]
    assert torch.autograd.gradcheck(
        lambda a, b, c: m(a, b, c, mask, need_weights=need_weights)[0], (q, k, v))


def test_parameter_gradients_match_torch(device, gen):
    ours, theirs = pair(device)
    q, k, v = inputs(gen, device)
    mask, kwargs = make_mask("4d", gen, device)
    g = torch.randn(B, L, E, generator=gen, dtype=torch.float64).to(device)
    (ours(q, k, v, mask)[0] * g).sum().backward()
    (theirs(q, k, v, average_attn_weights=False, **kwargs)[0] * g).sum().backward()
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, theirs_params[name].grad, **TIGHT)


def test_inputs_are_not_changed(gen):
    m = MultiHeadAttention(E, H)
    q, k, v = inputs(gen, "cpu", torch.float32)
    mask = make_mask("2d", gen, "cpu")[0]
    copies = [t.clone() for t in (q, k, v, mask)]
    m(q, k, v, mask)
    for t, c in zip((q, k, v, mask), copies):
        assert torch.equal(t, c)


def test_one_head_is_rule_3_with_projections(gen):
    m = MultiHeadAttention(E, 1).double()
    q, k, v = inputs(gen, "cpu")
    out, w = m(q, k, v)
    assert w.shape == (B, 1, L, S)
    Wq, Wk, Wv = m.in_proj_weight.detach().chunk(3)
    scores = (q @ Wq.T) @ (k @ Wk.T).transpose(1, 2) / E ** 0.5
    torch.testing.assert_close(w[:, 0], torch.softmax(scores, -1), **TIGHT)


# dropout --------------------------------------------------------------------------------


def test_dropout_in_eval_mode_is_deterministic_and_changes_nothing(gen):
    m = MultiHeadAttention(E, H, dropout=0.5).eval()
    plain = MultiHeadAttention(E, H)
    plain.load_state_dict(m.state_dict())
    q, k, v = inputs(gen, "cpu", torch.float32)
    out1, w1 = m(q, k, v)
    out2, w2 = m(q, k, v)
    assert torch.equal(out1, out2) and torch.equal(w1, w2)
    torch.testing.assert_close(out1, plain(q, k, v)[0])


def test_dropout_in_training_mode_drops_weights(gen):
    p = 0.5
    m = MultiHeadAttention(E, H, dropout=p).double().train()
    q, k, v = inputs(gen, "cpu")
    torch.manual_seed(1)
    out1, w1 = m(q, k, v)
    out2, w2 = m(q, k, v)
    assert not torch.equal(out1, out2)
    m.eval()
    _, w_eval = m(q, k, v)
    dropped = w1 == 0
    assert dropped.any() and (~dropped).any()
    torch.testing.assert_close(w1[~dropped], w_eval[~dropped] / (1 - p), **TIGHT)


@pytest.mark.parametrize("need_weights", [True, False])
def test_dropout_matches_torch_with_the_same_seed(need_weights, gen):
    ours, theirs = pair("cpu")
    ours.dropout = theirs.dropout = 0.3
    ours.train(), theirs.train()
    q, k, v = inputs(gen, "cpu")
    torch.manual_seed(7)
    out, w = ours(q, k, v, need_weights=True)
    torch.manual_seed(7)
    expected, expected_w = theirs(q, k, v, average_attn_weights=False)
    torch.testing.assert_close(out, expected, **TIGHT)
    torch.testing.assert_close(w, expected_w, **TIGHT)
    # need_weights=False returns no weights but the same output for the same seed
    torch.manual_seed(7)
    out_nw, w_nw = ours(q, k, v, need_weights=need_weights)
    torch.testing.assert_close(out_nw, out, **TIGHT)
    assert (w_nw is None) == (not need_weights)


def test_module_moves_with_to(device, gen):
    m = MultiHeadAttention(E, H).to(device)
    q, k, v = inputs(gen, device, torch.float32)
    out, w = m(q, k, v)
    assert out.device.type == device.type and w.device.type == device.type


# is_causal -------------------------------------------------------------------------------


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("kind", [None, "2d", "3d", "4d", "key_padding"])
def test_is_causal_matches_torch_with_its_causal_mask(kind, need_weights, device, gen):
    # torch's module takes the causal mask as attn_mask (True = NOT allowed); combined with
    # another mask, a pair is allowed only when both allow it.  No row ends fully masked:
    # every mask keeps key 0, and so does the causal one.
    ours, theirs = pair(device)
    q, k, v = inputs(gen, device)
    mask, kwargs = make_mask(kind, gen, device)
    forbidden = ~causal_mask(L, S, device=device)
    kwargs["attn_mask"] = kwargs["attn_mask"] | forbidden if "attn_mask" in kwargs else forbidden
    out, w = ours(q, k, v, mask, need_weights=need_weights, is_causal=True)
    expected, expected_w = theirs(q, k, v, need_weights=need_weights,
                                  average_attn_weights=False, **kwargs)
    torch.testing.assert_close(out, expected, **TIGHT)
    # and equal to passing causal_mask(L, S) combined with the mask ourselves
    combined = causal_mask(L, S, device=device)
    if mask is not None:
        combined = (mask[:, None] if mask.dim() == 3 else mask) & combined
    out_m, w_m = ours(q, k, v, combined, need_weights=need_weights)
    torch.testing.assert_close(out, out_m, **TIGHT)
    if need_weights:
        torch.testing.assert_close(w, expected_w, **TIGHT)
        torch.testing.assert_close(w, w_m, **TIGHT)
        assert torch.all(w[..., forbidden] == 0)


@pytest.mark.parametrize("Lq,Sk", [(4, 4), (3, 6), (6, 3)])
def test_is_causal_uses_the_fused_causal_path(Lq, Sk, monkeypatch, gen):
    # need_weights=False, no mask, no dropout: torch's SDPA gets is_causal=True and no mask.
    calls = []
    real = torch.nn.functional.scaled_dot_product_attention

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    ours, theirs = pair("cpu")
    q, k, v = inputs(gen, "cpu", Lq=Lq, Sk=Sk)
    out, w = ours(q, k, v, need_weights=False, is_causal=True)
    assert w is None and len(calls) == 1
    assert calls[0].get("is_causal") is True and calls[0].get("attn_mask") is None
    expected, _ = theirs(q, k, v, attn_mask=~causal_mask(Lq, Sk), need_weights=False)
    torch.testing.assert_close(out, expected, **TIGHT)


def test_is_causal_with_dropout_keeps_future_weights_zero(gen):
    m = MultiHeadAttention(E, H, dropout=0.3).double().train()
    q, k, v = inputs(gen, "cpu")
    torch.manual_seed(3)
    _, w = m(q, k, v, is_causal=True)
    assert torch.all(w[..., ~causal_mask(L, S)] == 0)
    torch.manual_seed(3)
    _, w_mask = m(q, k, v, causal_mask(L, S))
    torch.testing.assert_close(w, w_mask, **TIGHT)


# errors ---------------------------------------------------------------------------------

m8 = MultiHeadAttention(8, 2)
q8, k8, v8 = torch.randn(2, 4, 8), torch.randn(2, 5, 8), torch.randn(2, 5, 8)

ERRORS = [
    ("E not divisible by H", lambda: MultiHeadAttention(10, 3), ValueError,
     r"`embed_dim` must be divisible by `num_heads` .* got embed_dim 10, num_heads 3"),
    ("E zero", lambda: MultiHeadAttention(0, 1), ValueError,
     r"`embed_dim` must be a positive int; got 0"),
    ("H negative", lambda: MultiHeadAttention(8, -2), ValueError,
     r"`num_heads` must be a positive int; got -2"),
    ("H float", lambda: MultiHeadAttention(8, 2.0), TypeError,
     r"`num_heads` must be a positive int; got float 2.0"),
    ("bias int", lambda: MultiHeadAttention(8, 2, bias=1), TypeError,
     r"`bias` must be True or False; got int 1"),
    ("dropout one", lambda: MultiHeadAttention(8, 2, dropout=1.0), ValueError,
     r"`dropout` must be in \[0, 1\) .*; got 1.0"),
    ("dropout negative", lambda: MultiHeadAttention(8, 2, dropout=-0.1), ValueError,
     r"`dropout` must be in \[0, 1\) .*; got -0.1"),
    ("dropout nan", lambda: MultiHeadAttention(8, 2, dropout=float("nan")), ValueError,
     r"`dropout` must be in \[0, 1\) .*; got nan"),
    ("dropout str", lambda: MultiHeadAttention(8, 2, dropout="0.1"), TypeError,
     r"`dropout` must be a number in \[0, 1\); got str '0.1'"),
    ("dropout bool", lambda: MultiHeadAttention(8, 2, dropout=True), TypeError,
     r"`dropout` must be a number in \[0, 1\); got bool True"),
    ("2-D query", lambda: m8(q8[0], k8[0], v8[0]), ValueError,
     r"`query` must be 3-D with shape \(B, L, E\); got 2-D shape \(4, 8\)"),
    ("query E", lambda: m8(torch.randn(2, 4, 6), k8, v8), ValueError,
     r"`query` must have last dim E \(embed_dim\) = 8; got shape \(2, 4, 6\)"),
    ("key E", lambda: m8(q8, torch.randn(2, 5, 4), v8), ValueError,
     r"`key` must have last dim E \(embed_dim\) = 8; got shape \(2, 5, 4\)"),
    ("value E", lambda: m8(q8, k8, torch.randn(2, 5, 16)), ValueError,
     r"`value` must have last dim E \(embed_dim\) = 8; got shape \(2, 5, 16\)"),
    ("value S", lambda: m8(q8, k8, torch.randn(2, 6, 8)), ValueError,
     r"`value` must have the same length S .* got key \(2, 5, 8\), value \(2, 6, 8\)"),
    ("batch", lambda: m8(q8, torch.randn(3, 5, 8), torch.randn(3, 5, 8)), ValueError,
     r"`key` must have the same batch dims as `query`; got query \(2, 4, 8\), key \(3, 5, 8\)"),
    ("int query", lambda: m8(torch.ones(2, 4, 8, dtype=torch.long), k8, v8), TypeError,
     r"`query` must be a floating-point tensor; got dtype torch.int64"),
    ("list query", lambda: m8([[0.0]], k8, v8), TypeError,
     r"`query` must be a torch.Tensor; got list"),
    ("dtype mix", lambda: m8(q8, k8.double(), v8), TypeError,
     r"`key` must have the same dtype as `query`; got query torch.float32, key torch.float64"),
    ("dtype vs module", lambda: m8(q8.double(), k8.double(), v8.double()), TypeError,
     r"`query` has dtype torch.float64 but the MultiHeadAttention's weights are torch.float32"),
    ("need_weights int", lambda: m8(q8, k8, v8, need_weights=0), TypeError,
     r"`need_weights` must be True or False; got int 0"),
    ("is_causal int", lambda: m8(q8, k8, v8, is_causal=1), TypeError,
     r"`is_causal` must be True or False; got int 1"),
    ("float mask", lambda: m8(q8, k8, v8, torch.ones(4, 5)), TypeError,
     r"`mask` must be a boolean tensor \(True = may attend\); got dtype torch.float32"),
    ("numpy mask", lambda: m8(q8, k8, v8, torch.ones(4, 5).bool().numpy()), TypeError,
     r"`mask` must be a torch.Tensor; got ndarray"),
    ("1-D mask", lambda: m8(q8, k8, v8, torch.ones(5, dtype=torch.bool)), ValueError,
     r"`mask` must be at least 2-D with shape \(L, S\), \(B, L, S\) or \(B, H, L, S\); "
     r"got 1-D shape \(5,\)"),
    ("2-D mask shape", lambda: m8(q8, k8, v8, torch.ones(4, 4, dtype=torch.bool)), ValueError,
     r"`mask` must be broadcastable to the scores' shape \(L, S\) = \(4, 5\); got mask \(4, 4\)"),
    ("3-D mask batch", lambda: m8(q8, k8, v8, torch.ones(3, 4, 5, dtype=torch.bool)), ValueError,
     r"`mask` must be broadcastable to the scores' shape \(B, L, S\) = \(2, 4, 5\); "
     r"got mask \(3, 4, 5\)"),
    ("4-D mask heads", lambda: m8(q8, k8, v8, torch.ones(2, 3, 4, 5, dtype=torch.bool)),
     ValueError, r"`mask` must be broadcastable to the scores' shape \(B, H, L, S\) = "
     r"\(2, 2, 4, 5\); got mask \(2, 3, 4, 5\)"),
    ("5-D mask", lambda: m8(q8, k8, v8, torch.ones(1, 2, 2, 4, 5, dtype=torch.bool)), ValueError,
     r"`mask` must be broadcastable to the scores' shape \(B, H, L, S\) .* got mask "
     r"\(1, 2, 2, 4, 5\)"),
]


@pytest.mark.parametrize("call,exc,pattern", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_bad_input_gets_a_helpful_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_mask_on_another_device_is_refused(device):
    if device.type == "cpu":
        pytest.skip("needs a second device")
    m = MultiHeadAttention(8, 2).to(device)
    with pytest.raises(ValueError, match=r"`mask` must be on the same device as the scores"):
        m(q8.to(device), k8.to(device), v8.to(device), torch.ones(4, 5, dtype=torch.bool))
