"""VariantLM: every attention variant decodes the same tokens with and without its cache, and
the cache's measured bytes follow kv_cache_bytes."""

import pytest
import torch

from attnlib import VariantLM, kv_cache_bytes

MLA = dict(kv_lora_rank=6, qk_nope_head_dim=4, qk_rope_head_dim=2, v_head_dim=4)
CONFIGS = {"mha": {}, "gqa": dict(num_kv_heads=1), "mla": MLA,
           "window": dict(window=3, sinks=1), "linear": {}}


def model(attention, seed=0):
    torch.manual_seed(seed)
    lm = VariantLM(11, 16, 4, 2, attention=attention, max_len=40, **CONFIGS[attention])
    with torch.no_grad():  # larger weights than the initialisation: sharper attention
        for p in lm.parameters():
            p.mul_(3.0)
    return lm.double().eval()


@pytest.mark.parametrize("attention", CONFIGS)
def test_cached_decoding_equals_uncached_token_for_token(attention):
    lm = model(attention)
    prompt = torch.randint(0, 11, (3, 6), generator=torch.Generator().manual_seed(1))
    cached = lm.generate(prompt, 20)
    torch.testing.assert_close(cached, lm.generate(prompt, 20, use_cache=False), rtol=0, atol=0)
    cache = lm.new_cache(3, 26)
    logits = [lm.forward_cached(cached[:, :6], cache)]
    logits += [lm.forward_cached(cached[:, t:t + 1], cache) for t in range(6, 26)]
    torch.testing.assert_close(torch.cat(logits, 1), lm(cached), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("attention", ["mha", "gqa", "mla", "window"])
def test_cache_bytes_follow_the_formula(attention):
    lm = model(attention).float()
    cache = lm.new_cache(2, 30)
    for length in (5, 17):
        lm.forward_cached(torch.zeros(2, length - cache.length, dtype=torch.long), cache)
        sizes = {"mha": dict(num_kv_heads=4, head_dim=4), "gqa": dict(num_kv_heads=1, head_dim=4),
                 "mla": dict(kv_lora_rank=6, qk_rope_head_dim=2),
                 "window": dict(num_kv_heads=4, head_dim=4, window=3, sinks=1)}[attention]
        assert cache.nbytes() == kv_cache_bytes(length, layers=2, batch_size=2,
                                                bytes_per_number=4, **sizes)


def test_linear_state_does_not_grow():
    lm = model("linear")
    cache = lm.new_cache(1)
    lm.forward_cached(torch.zeros(1, 3, dtype=torch.long), cache)
    before = cache.nbytes()
    lm.forward_cached(torch.zeros(1, 20, dtype=torch.long), cache)
    assert cache.nbytes() == before == 2 * 4 * (4 * 4 + 4) * 8  # layers x H x (d^2 + d) x 8


def test_published_configurations():
    """The arithmetic of the chapter's table: 16-bit numbers, one token."""
    assert kv_cache_bytes(1, layers=32, num_kv_heads=32, head_dim=128) == 512 * 1024  # Llama 2 7B
    assert kv_cache_bytes(1, layers=32, num_kv_heads=8, head_dim=128) == 128 * 1024  # Llama 3 8B
    assert kv_cache_bytes(10**5, layers=32, num_kv_heads=8, head_dim=128, window=4096) \
        == 4096 * 128 * 1024  # Mistral 7B keeps 4096 tokens
    assert kv_cache_bytes(1, layers=60, kv_lora_rank=512, qk_rope_head_dim=64) == 60 * 576 * 2


def test_errors():
    with pytest.raises(ValueError, match="`attention` must be one of"):
        VariantLM(11, 16, 4, 1, attention="flash")
    with pytest.raises(TypeError, match="`cache` must be a VariantCache"):
        model("mha").forward_cached(torch.zeros(1, 1, dtype=torch.long), None)
    lm = model("mla")
    cache = lm.new_cache(2, 5)
    with pytest.raises(ValueError, match="batch size 2"):
        lm.forward_cached(torch.zeros(1, 1, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="holds 5 positions"):
        lm.forward_cached(torch.zeros(2, 6, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="give `num_kv_heads` and `head_dim`"):
        kv_cache_bytes(3, layers=2)
