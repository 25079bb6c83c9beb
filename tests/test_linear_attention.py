"""Linear attention: the paper's formula, the recurrent form equals the parallel causal form,
the delta rule, the module's cached decoding, errors."""

import pytest
import torch
import torch.nn.functional as F

from attnlib import LinearSelfAttention, delta_rule, linear_attention
from attnlib.linear_attention import linear_attention_step


def phi(x):
    return F.elu(x) + 1


def by_the_formula(q, k, v, causal):
    """o_i = sum_j phi(q_i).phi(k_j) v_j / sum_j phi(q_i).phi(k_j), one query at a time."""
    out = torch.empty(*q.shape[:-1], v.shape[-1], dtype=q.dtype)
    for i in range(q.shape[-2]):
        keys = slice(0, i + 1) if causal else slice(None)
        sim = (phi(q[..., i:i + 1, :]) * phi(k[..., keys, :])).sum(-1)  # (..., S)
        out[..., i, :] = (sim[..., None] * v[..., keys, :]).sum(-2) / sim.sum(-1, keepdim=True)
    return out


@pytest.mark.parametrize("causal", [False, True])
def test_equals_the_papers_formula(causal, gen):
    q, k = (torch.randn(2, 3, 6, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    v = torch.randn(2, 3, 6, 5, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(linear_attention(q, k, v, is_causal=causal, eps=0.0),
                               by_the_formula(q, k, v, causal))


def test_recurrent_form_equals_the_parallel_causal_form(gen):
    B, H, L, E, Ev = 2, 3, 9, 4, 5
    q, k = (torch.randn(B, H, L, E, generator=gen, dtype=torch.float64) for _ in range(2))
    v = torch.randn(B, H, L, Ev, generator=gen, dtype=torch.float64)
    state, norm = torch.zeros(B, H, E, Ev, dtype=torch.float64), torch.zeros(B, H, E,
                                                                           dtype=torch.float64)
    outs = []
    for t in range(L):
        o, state, norm = linear_attention_step(q[:, :, t], k[:, :, t], v[:, :, t], state, norm)
        outs.append(o)
    torch.testing.assert_close(torch.stack(outs, 2), linear_attention(q, k, v, is_causal=True))
    # after the last token the state is the sum of outer products over the whole sequence
    torch.testing.assert_close(state, phi(k).transpose(-2, -1) @ v)


def delta_by_matrices(q, k, v, beta, alpha):
    """S_i = (I - b k k^T) a S_{i-1} + b k v^T with explicit E x E matrices, one sequence."""
    E = k.shape[-1]
    S = torch.zeros(E, v.shape[-1], dtype=q.dtype)
    out = []
    for i in range(k.shape[0]):
        kk = k[i][:, None]
        S = (torch.eye(E, dtype=q.dtype) - beta[i] * kk @ kk.T) @ (alpha[i] * S) \
            + beta[i] * kk @ v[i][None]
        out.append(S.T @ q[i])
    return torch.stack(out)


def test_delta_rule(gen):
    L, E, Ev = 7, 4, 3
    q, k = (torch.randn(L, E, generator=gen, dtype=torch.float64) for _ in range(2))
    k = F.normalize(k, dim=-1)
    v = torch.randn(L, Ev, generator=gen, dtype=torch.float64)
    beta, alpha = torch.rand(L, generator=gen, dtype=torch.float64), \
        torch.rand(L, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(delta_rule(q, k, v, beta, alpha=alpha),
                               delta_by_matrices(q, k, v, beta, alpha))
    torch.testing.assert_close(delta_rule(q, k, v, beta),
                               delta_by_matrices(q, k, v, beta, torch.ones(L)))
    # beta = 1 with orthonormal keys stores exactly: reading key j returns value j
    keys = torch.linalg.qr(torch.randn(E, E, generator=gen, dtype=torch.float64))[0][:3]
    out = delta_rule(keys, keys, v[:3], torch.ones(3, dtype=torch.float64))
    torch.testing.assert_close(out, v[:3])


def test_module_cached_equals_parallel_and_gradcheck(gen):
    m = LinearSelfAttention(12, 3).double()
    x = torch.randn(2, 8, 12, generator=gen, dtype=torch.float64)
    state = m.new_state(2)
    out = [m.forward_cached(x[:, :3], state, 0)]
    out += [m.forward_cached(x[:, t:t + 1], state, t) for t in range(3, 8)]
    torch.testing.assert_close(torch.cat(out, 1), m(x))
    assert state.state.shape == (2, 3, 4, 4)  # (B, H, E, Ev) per head, whatever the length
    xs = x[:, :4].clone().requires_grad_()
    assert torch.autograd.gradcheck(m, (xs,))
    q, k, v = (torch.randn(1, 4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
               for _ in range(3))
    for causal in (False, True):
        assert torch.autograd.gradcheck(
            lambda q, k, v: linear_attention(q, k, v, is_causal=causal), (q, k, v))


def test_errors():
    q, v = torch.randn(2, 5, 4), torch.randn(2, 5, 3)
    with pytest.raises(ValueError, match="last dim E"):
        linear_attention(q, torch.randn(2, 5, 6), v)
    with pytest.raises(ValueError, match="`is_causal` needs as many queries as keys"):
        linear_attention(torch.randn(2, 3, 4), q, v, is_causal=True)
    with pytest.raises(TypeError, match="`feature_map` must be a function"):
        linear_attention(q, q, v, feature_map=2)
    with pytest.raises(ValueError, match="`beta` must have last dim L"):
        delta_rule(q, q, v, torch.ones(4))
    with pytest.raises(ValueError, match="`mask` must be None"):
        LinearSelfAttention(8, 2)(torch.randn(1, 3, 8), mask=torch.ones(3, 3, dtype=bool))
    with pytest.raises(ValueError, match="`embed_dim` must be divisible"):
        LinearSelfAttention(9, 2)
