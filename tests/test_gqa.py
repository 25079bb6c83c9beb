"""GroupedQueryAttention against transformers' LlamaAttention, the conversion, the cache, errors."""

import pytest
import torch

from attnlib import GroupedQueryAttention, MultiHeadAttention, mha_to_gqa
from transformers_reference import LlamaAttention, LlamaConfig


def llama(E, H, G, bias=False, seed=0):
    torch.manual_seed(seed)
    config = LlamaConfig(hidden_size=E, num_attention_heads=H, num_key_value_heads=G,
                         attention_bias=bias, attn_implementation="eager")
    return LlamaAttention(config, layer_idx=0).double().eval()


def additive(mask):
    """attnlib's boolean mask as transformers' additive one (0 where allowed, -inf elsewhere)."""
    return torch.zeros(mask.shape, dtype=torch.float64).masked_fill(~mask, float("-inf"))


def random_mask(B, L, gen):
    """A random (B, 1, L, L) mask in which every query sees at least itself."""
    mask = torch.rand(B, 1, L, L, generator=gen) < 0.6
    return mask | torch.eye(L, dtype=torch.bool)


@pytest.mark.parametrize("H,G", [(4, 4), (4, 2), (4, 1), (6, 3)])
@pytest.mark.parametrize("bias", [False, True])
def test_loads_llama_attention_and_matches_it(H, G, bias, gen):
    E, B, L = 24, 2, 7
    ref = llama(E, H, G, bias)
    mine = GroupedQueryAttention(E, H, G, bias=bias).double()
    mine.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(B, L, E, generator=gen, dtype=torch.float64)
    identity = (torch.ones(B, L, E // H, dtype=torch.float64),
                torch.zeros(B, L, E // H, dtype=torch.float64))  # cos 1, sin 0: no rotation
    causal = torch.ones(L, L, dtype=torch.bool).tril()
    masks = [None, causal.expand(B, 1, L, L), random_mask(B, L, gen)]
    for mask in masks:
        expected, _ = ref(x, position_embeddings=identity,
                          attention_mask=None if mask is None else additive(mask))
        torch.testing.assert_close(mine(x, mask=mask), expected, rtol=1e-6, atol=1e-6)
    expected, _ = ref(x, position_embeddings=identity, attention_mask=additive(masks[1]))
    torch.testing.assert_close(mine(x, is_causal=True), expected, rtol=1e-6, atol=1e-6)


def test_all_heads_is_multi_head_attention(gen):
    E, H = 16, 4
    gqa = GroupedQueryAttention(E, H, H).double()
    mha = MultiHeadAttention(E, H, bias=False).double()
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([gqa.q_proj.weight, gqa.k_proj.weight,
                                            gqa.v_proj.weight]))
        mha.out_proj.weight.copy_(gqa.o_proj.weight)
    x = torch.randn(3, 5, E, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(gqa(x, is_causal=True), mha(x, x, x, is_causal=True)[0])


def test_conversion_mean_pools_each_group(gen):
    mha = GroupedQueryAttention(16, 4, 4, bias=True).double()
    mqa = mha_to_gqa(mha, 1)
    gqa = mha_to_gqa(mha, 2)
    d = 4
    for name in ("k_proj", "v_proj"):
        w = getattr(mha, name).weight
        torch.testing.assert_close(getattr(mqa, name).weight, w.view(4, d, 16).mean(0))
        torch.testing.assert_close(getattr(gqa, name).weight[:d], (w[:d] + w[d:2 * d]) / 2)
        torch.testing.assert_close(getattr(gqa, name).bias[d:],
                                   (getattr(mha, name).bias[2 * d:3 * d]
                                    + getattr(mha, name).bias[3 * d:]) / 2)
    torch.testing.assert_close(gqa.q_proj.weight, mha.q_proj.weight)
    # where the heads of a group already agree, pooling changes nothing
    with torch.no_grad():
        for name in ("k_proj", "v_proj"):
            w = getattr(mha, name).weight.view(2, 2, d, 16)
            w[:, 1] = w[:, 0]
            b = getattr(mha, name).bias.view(2, 2, d)
            b[:, 1] = b[:, 0]
    x = torch.randn(2, 6, 16, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(mha_to_gqa(mha, 2)(x, is_causal=True), mha(x, is_causal=True))
    with pytest.raises(ValueError, match="num_kv_heads"):
        mha_to_gqa(mha, 3)
    with pytest.raises(TypeError, match="GroupedQueryAttention"):
        mha_to_gqa(torch.nn.Linear(2, 2), 1)


@pytest.mark.parametrize("G", [1, 2, 4])
def test_cached_steps_equal_the_causal_forward(G, gen):
    m = GroupedQueryAttention(16, 4, G).double()
    x = torch.randn(2, 9, 16, generator=gen, dtype=torch.float64)
    state = m.new_state(2, 9)
    assert state.keys.shape == (2, G, 9, 4)  # the cache holds G heads, not H
    out = [m.forward_cached(x[:, :4], state, 0)]
    out += [m.forward_cached(x[:, t:t + 1], state, t) for t in range(4, 9)]
    torch.testing.assert_close(torch.cat(out, 1), m(x, is_causal=True))


def test_gradcheck(gen):
    m = GroupedQueryAttention(8, 4, 2, bias=True).double()
    x = torch.randn(2, 4, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    mask = random_mask(2, 4, gen)
    assert torch.autograd.gradcheck(lambda x: m(x, mask=mask, is_causal=True), (x,))


def test_errors():
    with pytest.raises(ValueError, match="`num_heads` must be a multiple of `num_kv_heads`"):
        GroupedQueryAttention(24, 6, 4)
    with pytest.raises(ValueError, match="`embed_dim` must be divisible by `num_heads`"):
        GroupedQueryAttention(10, 4, 2)
    with pytest.raises(ValueError, match="num_kv_heads"):
        GroupedQueryAttention(8, 4, 0)
    m = GroupedQueryAttention(8, 4, 2)
    with pytest.raises(ValueError, match="last dim E"):
        m(torch.randn(2, 3, 6))
    with pytest.raises(TypeError, match="boolean"):
        m(torch.randn(2, 3, 8), mask=torch.ones(3, 3))
