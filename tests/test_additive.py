import pytest
import torch

from attnlib import AdditiveAttention
from reference import additive_by_loops


def make(gen, B=2, L=3, S=5, Eq=4, Ek=6, Ev=7, dtype=torch.float64):
    q = torch.randn(B, L, Eq, generator=gen, dtype=dtype)
    k = torch.randn(B, S, Ek, generator=gen, dtype=dtype)
    v = torch.randn(B, S, Ev, generator=gen, dtype=dtype)
    return q, k, v


def concatenated_weights(m):
    """The article's one linear layer over [q; k]: W = [W_q | W_k], bias b."""
    W = torch.cat((m.w_query.weight, m.w_key.weight), dim=1)
    return W, m.w_query.bias, m.v.weight[0]


@pytest.mark.parametrize("with_mask", [False, True])
def test_equals_the_concatenated_form_computed_by_loops(with_mask, gen):
    torch.manual_seed(0)
    m = AdditiveAttention(4, 6, 8).double()
    q, k, v = make(gen)
    mask = None
    if with_mask:
        mask = torch.rand(2, 3, 5, generator=gen) > 0.4
        mask[1, 2] = False  # one fully masked row
    out, w = m(q, k, v, mask)
    with torch.no_grad():
        ref_out, ref_w = additive_by_loops(*concatenated_weights(m), q, k, v, mask)
    assert out.shape == (2, 3, 7) and w.shape == (2, 3, 5)
    torch.testing.assert_close(w, ref_w)
    torch.testing.assert_close(out, ref_out)
    if with_mask:
        assert torch.all(w[~mask] == 0)
        assert torch.all(out[1, 2] == 0)


def test_sum_over_hidden_is_the_case_v_equal_one(gen):
    m = AdditiveAttention(4, 6, 8).double()
    with torch.no_grad():
        m.v.weight.fill_(1.0)
    q, k, _ = make(gen)
    hidden = torch.tanh(m.w_query(q)[:, :, None, :] + m.w_key(k)[:, None, :, :])
    torch.testing.assert_close(m.scores(q, k), hidden.sum(-1))


def test_padding_mask_broadcasts_over_queries(gen):
    m = AdditiveAttention(4, 6, 8).double()
    q, k, v = make(gen)
    lengths = torch.tensor([5, 2])
    pad = torch.arange(5)[None, None, :] < lengths[:, None, None]  # (B, 1, S)
    out, w = m(q, k, v, pad)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, dtype=torch.float64))
    assert torch.all(w[1, :, 2:] == 0)
    # Padded keys do not matter: changing them changes nothing.
    k2, v2 = k.clone(), v.clone()
    k2[1, 2:] = 50.0
    v2[1, 2:] = -50.0
    out2, w2 = m(q, k2, v2, pad)
    torch.testing.assert_close(out2, out)


def test_gradcheck(device, gen):
    m = AdditiveAttention(4, 6, 8).double().to(device)
    q, k, v = (t.to(device).requires_grad_() for t in make(gen))
    mask = (torch.rand(2, 3, 5, generator=gen) > 0.3).to(device)
    assert torch.autograd.gradcheck(lambda a, b, c: m(a, b, c, mask)[0], (q, k, v))


def test_no_parameter_bias_option():
    m = AdditiveAttention(4, 6, 8, bias=False)
    assert m.w_query.bias is None
    assert [n for n, _ in m.named_parameters()] == ["w_query.weight", "w_key.weight", "v.weight"]
