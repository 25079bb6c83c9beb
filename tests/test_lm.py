"""TransformerLM: causal, cached == uncached (logits and tokens), the cache's size, errors."""

import pytest
import torch

from attnlib import TransformerLM


def model(seed=0, **kw):
    torch.manual_seed(seed)
    args = dict(vocab_size=11, d_model=16, nhead=4, num_layers=2, max_len=40)
    args.update(kw)
    return TransformerLM(**args).double().eval()


def test_forward_shape_and_causality():
    lm = model()
    idx = torch.randint(0, 11, (3, 9))
    logits = lm(idx)
    assert logits.shape == (3, 9, 11)
    changed = idx.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % 11  # change the future
    torch.testing.assert_close(lm(changed)[:, :6], logits[:, :6], rtol=1e-12, atol=1e-12)
    assert not torch.allclose(lm(changed)[:, 6:], logits[:, 6:])


def test_cached_logits_equal_full_forward():
    lm = model(1)
    idx = torch.randint(0, 11, (2, 12))
    cache = lm.new_cache(2, 12)
    parts = [lm.forward_cached(idx[:, :5], cache)]  # a prompt of 5, then 1, 1, then 5 at once
    parts += [lm.forward_cached(idx[:, 5:6], cache), lm.forward_cached(idx[:, 6:7], cache)]
    parts.append(lm.forward_cached(idx[:, 7:], cache))
    assert cache.length == 12
    torch.testing.assert_close(torch.cat(parts, dim=1), lm(idx), rtol=1e-10, atol=1e-10)
    assert cache.nbytes() == 2 * 2 * 2 * 12 * 16 * 8  # 2 (K, V) x layers x B x T x E x 8 bytes


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cache_bytes_count_filled_rows_and_allocation_separately(dtype):
    lm = model(2).to(dtype)  # 2 layers, E = 16
    B, capacity, E, layers = 3, 20, 16, 2
    cache = lm.new_cache(B, capacity)
    tensors = cache.keys + cache.values
    reserved = sum(t.numel() * t.element_size() for t in tensors)
    size = torch.finfo(dtype).bits // 8
    assert reserved == 2 * layers * B * capacity * E * size
    assert cache.allocated_nbytes() == reserved
    assert cache.nbytes() == 0  # nothing written yet
    lm.forward_cached(torch.randint(0, 11, (B, 7)), cache)  # a prompt of 7
    assert cache.nbytes() == 2 * layers * B * 7 * E * size
    lm.forward_cached(torch.randint(0, 11, (B, 1)), cache)  # one more token
    assert cache.nbytes() == 2 * layers * B * 8 * E * size
    assert cache.allocated_nbytes() == reserved  # the allocation does not grow
    # a capacity beyond max_len is clipped to it
    assert lm.new_cache(1, 100).allocated_nbytes() == 2 * layers * 40 * E * size


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cached_generation_equals_uncached(seed):
    lm = model(seed, max_len=32).float()
    prompt = torch.randint(0, 11, (3, 4), generator=torch.Generator().manual_seed(seed))
    before = prompt.clone()
    fast = lm.generate(prompt, 24, use_cache=True)
    slow = lm.generate(prompt, 24, use_cache=False)
    assert fast.shape == (3, 28)
    assert torch.equal(fast, slow)
    assert torch.equal(fast[:, :4], prompt) and torch.equal(prompt, before)
    # each generated token is the argmax of the full forward at the previous position
    assert torch.equal(lm(fast[:, :-1])[:, 3:].argmax(-1), fast[:, 4:])


def test_generate_keeps_the_mode_and_zero_new_tokens():
    lm = model(dropout=0.5).train()
    prompt = torch.randint(0, 11, (1, 3))
    assert torch.equal(lm.generate(prompt, 0), prompt)
    out = lm.generate(prompt, 5)
    assert lm.training and torch.equal(out, lm.generate(prompt, 5, use_cache=False))


def test_gradients_flow_in_training():
    lm = model()
    idx = torch.randint(0, 11, (2, 6))
    lm(idx).sum().backward()
    assert all(p.grad is not None for p in lm.parameters())


def test_errors():
    lm = model()
    with pytest.raises(ValueError, match=r"`idx` reaches position 41 but the model has "
                                         r"max_len=40 positions"):
        lm.generate(torch.zeros(1, 41, dtype=torch.long), 1)
    with pytest.raises(ValueError, match="exceeds max_len=40"):
        lm.generate(torch.zeros(1, 30, dtype=torch.long), 11)
    with pytest.raises(TypeError, match="`idx` must be int64 token ids"):
        lm(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"`idx` must hold ids in 0..10"):
        lm(torch.tensor([[3, 11]]))
    with pytest.raises(ValueError, match="`max_new_tokens` must be an int >= 0"):
        lm.generate(torch.zeros(1, 3, dtype=torch.long), -1)
    with pytest.raises(ValueError, match="`d_model` must be divisible by `nhead`"):
        TransformerLM(10, 10, 3, 1)
    with pytest.raises(TypeError, match="`cache` must be a KVCache"):
        lm.forward_cached(torch.zeros(1, 3, dtype=torch.long), None)
    cache = lm.new_cache(1, 4)
    with pytest.raises(ValueError, match="`cache` holds 4 positions"):
        lm.forward_cached(torch.zeros(1, 5, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="`cache` was made for batch size 1"):
        lm.forward_cached(torch.zeros(2, 2, dtype=torch.long), cache)
