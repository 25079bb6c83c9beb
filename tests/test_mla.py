"""MultiHeadLatentAttention against transformers' DeepseekV2Attention; the latent cache; absorbed
decoding equals naive decoding; errors."""

import pytest
import torch

from attnlib import MultiHeadLatentAttention
from transformers_reference import (DeepseekV2Attention, DeepseekV2Config,
                                    DeepseekV2RotaryEmbedding)

SIZES = dict(kv_lora_rank=8, qk_nope_head_dim=6, qk_rope_head_dim=4, v_head_dim=5)


def deepseek(E, H, q_lora_rank, seed=0):
    torch.manual_seed(seed)
    config = DeepseekV2Config(hidden_size=E, num_attention_heads=H, num_key_value_heads=H,
                              q_lora_rank=q_lora_rank, attn_implementation="eager", **SIZES)
    ref = DeepseekV2Attention(config, layer_idx=0).double().eval()
    with torch.no_grad():
        for p in ref.parameters():  # norms away from 1, so that their weights count
            p.normal_(0.0, 0.3)
    return ref, config


def latent(E, H, q_lora_rank=None):
    return MultiHeadLatentAttention(E, H, q_lora_rank=q_lora_rank, **SIZES).double()


@pytest.mark.parametrize("q_lora_rank", [None, 12])
def test_loads_deepseek_v2_attention_and_matches_it(q_lora_rank, gen):
    E, H, B, L = 32, 4, 2, 7
    ref, config = deepseek(E, H, q_lora_rank)
    mine = latent(E, H, q_lora_rank)
    mine.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(B, L, E, generator=gen, dtype=torch.float64)
    # the reference's own rotary embedding of positions 0..L-1 (complex, pairs (2i, 2i+1))
    rotary = DeepseekV2RotaryEmbedding(config)(x, torch.arange(L)[None].expand(B, L))
    causal = torch.ones(L, L, dtype=torch.bool).tril().expand(B, 1, L, L)
    padding = torch.ones(B, 1, L, L, dtype=torch.bool)
    padding[1, ..., 5:] = False  # the second sequence's last two keys are padding
    for mask in [None, causal, padding, causal & padding]:
        additive = None if mask is None else torch.zeros(mask.shape, dtype=torch.float64) \
            .masked_fill(~mask, float("-inf"))
        expected, _ = ref(x, attention_mask=additive, position_embeddings=rotary)
        torch.testing.assert_close(mine(x, mask=mask), expected, rtol=1e-6, atol=1e-6)
    expected, _ = ref(x, attention_mask=torch.zeros(B, 1, L, L, dtype=torch.float64)
                      .masked_fill(~causal, float("-inf")), position_embeddings=rotary)
    torch.testing.assert_close(mine(x, is_causal=True), expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("absorbed", [True, False])
@pytest.mark.parametrize("q_lora_rank", [None, 6])
def test_cache_holds_only_the_latent_and_the_rotary_key(absorbed, q_lora_rank, gen):
    m = latent(16, 4, q_lora_rank)
    x = torch.randn(2, 10, 16, generator=gen, dtype=torch.float64)
    state = m.new_state(2, 10)
    assert state.latent.shape == (2, 10, SIZES["kv_lora_rank"])
    assert state.rope_key.shape == (2, 10, SIZES["qk_rope_head_dim"])
    out = [m.forward_cached(x[:, :3], state, 0, absorbed=absorbed)]
    out += [m.forward_cached(x[:, t:t + 1], state, t, absorbed=absorbed) for t in range(3, 10)]
    torch.testing.assert_close(torch.cat(out, 1), m(x, is_causal=True))


def test_absorbed_query_scores_equal_the_up_projected_keys(gen):
    """q^C . (c W^UK) == (q^C W^UK) . c, head by head, with kv_b_proj's rows as written."""
    m = latent(16, 2)
    c = torch.randn(5, SIZES["kv_lora_rank"], generator=gen, dtype=torch.float64)
    q = torch.randn(2, 3, SIZES["qk_nope_head_dim"], generator=gen, dtype=torch.float64)
    w = m.kv_b_proj.weight  # (H (d_n + d_v), r): head h's key rows come first in its block
    dn, dv = SIZES["qk_nope_head_dim"], SIZES["v_head_dim"]
    for h in range(2):
        keys = c @ w[h * (dn + dv):h * (dn + dv) + dn].T  # (5, d_n)
        w_uk, _ = m.up_weights()
        torch.testing.assert_close((q[h] @ w_uk[h]) @ c.T, q[h] @ keys.T)


def test_gradcheck(gen):
    m = MultiHeadLatentAttention(8, 2, kv_lora_rank=3, qk_nope_head_dim=2, qk_rope_head_dim=2,
                                 v_head_dim=3, q_lora_rank=4).double()
    x = torch.randn(2, 4, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: m(x, is_causal=True), (x,))
    assert torch.autograd.gradcheck(lambda x: m.forward_cached(x, m.new_state(2, 4), 0), (x,))


def test_errors():
    with pytest.raises(ValueError, match="`kv_lora_rank` must be a positive int"):
        MultiHeadLatentAttention(8, 2, kv_lora_rank=0, qk_nope_head_dim=2, qk_rope_head_dim=2,
                                 v_head_dim=2)
    with pytest.raises(ValueError, match="`q_lora_rank` must be a positive int"):
        MultiHeadLatentAttention(8, 2, kv_lora_rank=2, qk_nope_head_dim=2, qk_rope_head_dim=2,
                                 v_head_dim=2, q_lora_rank=0)
    with pytest.raises(ValueError, match="`qk_rope_head_dim` must be even"):
        MultiHeadLatentAttention(8, 2, kv_lora_rank=2, qk_nope_head_dim=2, qk_rope_head_dim=3,
                                 v_head_dim=2)
    m = MultiHeadLatentAttention(8, 2, kv_lora_rank=2, qk_nope_head_dim=2, qk_rope_head_dim=2,
                                 v_head_dim=2)
    with pytest.raises(ValueError, match="last dim E"):
        m(torch.randn(1, 3, 4))
