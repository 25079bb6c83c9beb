"""tiled_attention (online softmax over key blocks) and rule 2's query chunks."""

import pytest
import torch
import torch.nn.functional as F

from attnlib import AdditiveAttention, causal_mask, scaled_dot_product_attention, tiled_attention
from attnlib.bench import peak_memory


def qkv(gen, lead=(2, 3), L=7, S=13, E=8, Ev=5, dtype=torch.float64, device="cpu"):
    q = torch.randn(*lead, L, E, generator=gen, dtype=dtype).to(device)
    k = torch.randn(*lead, S, E, generator=gen, dtype=dtype).to(device)
    v = torch.randn(*lead, S, Ev, generator=gen, dtype=dtype).to(device)
    return q, k, v


# (L, S, block_size): blocks that divide S, that do not, one block, one key per block,
# L < S, L > S, L = 1
SIZES = [(8, 16, 4), (7, 13, 4), (7, 13, 5), (5, 5, 128), (6, 6, 1), (3, 20, 7), (20, 3, 2),
         (1, 9, 4), (9, 1, 4), (33, 65, 16)]


@pytest.mark.parametrize("L,S,block_size", SIZES)
@pytest.mark.parametrize("is_causal", [False, True])
def test_equals_torch_sdpa_float64(L, S, block_size, is_causal, device, gen):
    q, k, v = qkv(gen, L=L, S=S, device=device)
    out = tiled_attention(q, k, v, block_size=block_size, is_causal=is_causal)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    assert out.shape == (2, 3, L, 5) and out.dtype == torch.float64
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("L,S,block_size", [(7, 13, 4), (20, 3, 2), (33, 65, 16)])
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_in_place_and_autograd_paths_agree(L, S, block_size, is_causal, dtype, gen):
    # without autograd the state is updated in place; with it, new tensors are made
    q, k, v = qkv(gen, L=L, S=S, dtype=dtype)
    plain = tiled_attention(q, k, v, block_size=block_size, is_causal=is_causal)
    q.requires_grad_()
    with_grad = tiled_attention(q, k, v, block_size=block_size, is_causal=is_causal)
    assert with_grad.requires_grad and not plain.requires_grad
    torch.testing.assert_close(with_grad.detach(), plain)


@pytest.mark.parametrize("is_causal", [False, True])
def test_equals_attnlib_rule3_float32_with_scale(is_causal, device, gen):
    q, k, v = qkv(gen, L=37, S=50, E=16, Ev=16, dtype=torch.float32, device=device)
    out = tiled_attention(q, k, v, block_size=8, is_causal=is_causal, scale=0.3)
    expected, _ = scaled_dot_product_attention(q, k, v, is_causal=is_causal, scale=0.3)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("lead", [(), (4,), (2, 1, 3)])
def test_any_number_of_leading_dims(lead, gen):
    q, k, v = qkv(gen, lead=lead, L=6, S=10)
    out = tiled_attention(q, k, v, block_size=3)
    assert out.shape == (*lead, 6, 5)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))


def test_causal_is_top_left_aligned_like_attnlib(gen):
    # L > S: the last queries see every key; L < S: the later keys are seen by nobody
    for L, S in [(9, 4), (4, 9)]:
        q, k, v = qkv(gen, L=L, S=S)
        out = tiled_attention(q, k, v, block_size=2, is_causal=True)
        expected, _ = scaled_dot_product_attention(q, k, v, causal_mask(L, S))
        torch.testing.assert_close(out, expected)


def test_large_scores_do_not_overflow(gen):
    # scores in the thousands: exp would overflow without the running max
    q, k, v = qkv(gen, L=5, S=17, dtype=torch.float32)
    q = q * 300
    out = tiled_attention(q, k, v, block_size=4)
    assert torch.isfinite(out).all()
    expected = F.scaled_dot_product_attention(q.double(), k.double(), v.double())
    torch.testing.assert_close(out, expected.float(), rtol=1e-4, atol=1e-4)


def test_the_maximum_arriving_late_is_rescaled_exactly(gen):
    # the largest score of each row lies in the last block, so every earlier block
    # is rescaled once more at the end
    q, k, v = qkv(gen, L=4, S=12, E=4)
    k[..., -1, :] = q.mean(dim=-2) * 10
    out = tiled_attention(q, k, v, block_size=3)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("is_causal", [False, True])
def test_half_precision(dtype, is_causal, device, gen):
    q, k, v = qkv(gen, L=20, S=30, E=16, Ev=8, dtype=dtype, device=device)
    out = tiled_attention(q, k, v, block_size=8, is_causal=is_causal)
    assert out.dtype == dtype and torch.isfinite(out).all()
    expected = F.scaled_dot_product_attention(q.double(), k.double(), v.double(),
                                              is_causal=is_causal)
    torch.testing.assert_close(out.double(), expected, rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("is_causal", [False, True])
def test_float64_gradients_match_torch(is_causal, device, gen):
    q, k, v = qkv(gen, L=6, S=9, device=device)
    ours = [t.clone().requires_grad_() for t in (q, k, v)]
    theirs = [t.clone().requires_grad_() for t in (q, k, v)]
    g = torch.randn(2, 3, 6, 5, generator=gen, dtype=torch.float64).to(device)
    (tiled_attention(*ours, block_size=4, is_causal=is_causal) * g).sum().backward()
    (F.scaled_dot_product_attention(*theirs, is_causal=is_causal) * g).sum().backward()
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.grad, b.grad)


def test_gradcheck(gen):
    q, k, v = (t.requires_grad_() for t in qkv(gen, lead=(2,), L=4, S=7, E=3, Ev=2))
    assert torch.autograd.gradcheck(
        lambda a, b, c: tiled_attention(a, b, c, block_size=3, is_causal=True), (q, k, v))


def test_empty_sizes(gen):
    q, k, v = qkv(gen, lead=(0, 3), L=4, S=6)
    assert tiled_attention(q, k, v, block_size=4).shape == (0, 3, 4, 5)
    q, k, v = qkv(gen, L=4, S=0)
    out = tiled_attention(q, k, v, block_size=4)  # no key at all: zero output, not NaN
    assert out.shape == (2, 3, 4, 5) and torch.all(out == 0)


def test_non_contiguous_inputs(gen):
    q, k, v = qkv(gen, lead=(3, 2), L=5, S=9)
    q, k, v = (t.transpose(0, 1) for t in (q, k, v))  # (3, 2, ...) -> (2, 3, ...) views
    torch.testing.assert_close(tiled_attention(q, k, v, block_size=4),
                               F.scaled_dot_product_attention(q, k, v))


def test_inputs_are_not_changed(gen):
    q, k, v = qkv(gen)
    copies = [t.clone() for t in (q, k, v)]
    tiled_attention(q, k, v, block_size=4, is_causal=True)
    for t, c in zip((q, k, v), copies):
        assert torch.equal(t, c)


def test_extra_memory_grows_with_block_not_with_L_times_S(gen):
    # Peak extra memory (CPU allocator, via the profiler) at a fixed L and block size.
    # Apart from the (N, S, Ev + 1) copy [V | 1] it does not grow with S, while the
    # weights path grows with L * S.
    def peaks(S):
        q, k, v = qkv(gen, lead=(1, 2), L=256, S=S, E=32, Ev=32, dtype=torch.float32)
        tiled = peak_memory(lambda: tiled_attention(q, k, v, block_size=64))
        full = peak_memory(lambda: scaled_dot_product_attention(q, k, v))
        return tiled - 2 * S * (32 + 1) * 4, full

    tiled_512, full_512 = peaks(512)
    tiled_2048, full_2048 = peaks(2048)
    assert full_2048 >= 3.5 * full_512
    assert tiled_2048 <= 1.1 * tiled_512
    assert tiled_2048 * 8 <= full_2048


@pytest.mark.parametrize("bad, exc, words", [
    (dict(block_size=0), ValueError, "`block_size` must be a positive int"),
    (dict(block_size=2.5), TypeError, "`block_size` must be a positive int"),
    (dict(block_size=True), TypeError, "`block_size`"),
    (dict(is_causal=1), TypeError, "`is_causal` must be True or False"),
    (dict(scale=-1.0), ValueError, "`scale` must be a positive"),
    (dict(scale="0.1"), TypeError, "`scale`"),
])
def test_bad_arguments_name_the_argument(bad, exc, words, gen):
    q, k, v = qkv(gen)
    with pytest.raises(exc, match=words.replace("(", r"\(")):
        tiled_attention(q, k, v, **bad)


def test_bad_tensors_name_the_argument(gen):
    q, k, v = qkv(gen)
    with pytest.raises(ValueError, match="`key` must have the same last dim E as `query`"):
        tiled_attention(q, k[..., :3], v)
    with pytest.raises(ValueError, match="`value`"):
        tiled_attention(q, k, v[..., :4, :])
    with pytest.raises(TypeError, match="`query` must be a floating-point tensor"):
        tiled_attention(q.long(), k, v)
    with pytest.raises(TypeError, match="`query` must be a torch.Tensor"):
        tiled_attention(q.numpy(), k, v)
    with pytest.raises(TypeError, match="`key` must have the same dtype"):
        tiled_attention(q, k.float(), v)


# ------------------------------------------------------------------ rule 2 in query chunks


def additive_inputs(gen, B=2, L=7, S=5, Eq=4, Ek=6, Ev=3):
    q = torch.randn(B, L, Eq, generator=gen, dtype=torch.float64)
    k = torch.randn(B, S, Ek, generator=gen, dtype=torch.float64)
    v = torch.randn(B, S, Ev, generator=gen, dtype=torch.float64)
    return q, k, v


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 100])
@pytest.mark.parametrize("mask_shape", [None, (2, 7, 5), (2, 1, 5), (7, 5), (5,)])
def test_additive_chunks_equal_one_shot(chunk, mask_shape, gen):
    torch.manual_seed(0)
    m = AdditiveAttention(4, 6, 8).double()
    q, k, v = additive_inputs(gen)
    mask = None
    if mask_shape is not None:
        mask = torch.rand(mask_shape, generator=gen) > 0.4
        if mask_shape == (2, 7, 5):
            mask[1, 3] = False  # a fully masked row
    out, w = m(q, k, v, mask)
    out_c, w_c = m(q, k, v, mask, query_chunk_size=chunk)
    torch.testing.assert_close(w_c, w)
    torch.testing.assert_close(out_c, out)
    torch.testing.assert_close(m.scores(q, k, query_chunk_size=chunk), m.scores(q, k))
    if mask_shape == (2, 7, 5):
        assert torch.all(out_c[1, 3] == 0) and torch.all(w_c[1, 3] == 0)


def test_additive_chunks_gradients_equal_one_shot(gen):
    m = AdditiveAttention(4, 6, 8).double()
    q, k, v = additive_inputs(gen)
    mask = torch.rand(2, 7, 5, generator=gen) > 0.3
    grads = []
    for chunk in (None, 3):
        m.zero_grad()
        inputs = [t.clone().requires_grad_() for t in (q, k, v)]
        m(*inputs, mask, query_chunk_size=chunk)[0].sum().backward()
        grads.append([t.grad for t in inputs] + [p.grad.clone() for p in m.parameters()])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


def test_additive_chunks_bound_the_extra_memory(gen):
    m = AdditiveAttention(16, 16, 32)
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 128, 16, generator=g) for _ in range(3))
    one_shot = peak_memory(lambda: m(q, k, v))
    chunked = peak_memory(lambda: m(q, k, v, query_chunk_size=16))
    broadcast = 2 * 128 * 128 * 32 * 4  # the (B, L, S, h) float32 features
    assert one_shot >= broadcast
    assert chunked <= one_shot / 4


@pytest.mark.parametrize("chunk", [8, 16, 32])
def test_additive_chunked_peak_is_one_chunk_of_features(chunk):
    # Derived peak, during the last chunk (float32, b = 4 bytes): that chunk's (B, c, S, h)
    # features (tanh taken in place, so one tensor), the projected queries (B, L, h) and
    # keys (B, S, h), and the scores gathered so far with this chunk's, (B, L, S) in all.
    # With c * h > L this is larger than anything after the loop (2 (B, L, S) + projections),
    # and a second chunk's features alive at once would add B * c * S * h * b again.
    B, L, E, h = 2, 128, 16, 32
    m = AdditiveAttention(E, E, h)
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(B, L, E, generator=g) for _ in range(3))
    b, S = 4, L
    derived = b * (B * chunk * S * h + B * (L + S) * h + B * L * S)
    measured = peak_memory(lambda: m(q, k, v, query_chunk_size=chunk))
    assert derived <= measured <= 1.01 * derived, (measured, derived)


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                      (True, TypeError), ("4", TypeError)])
def test_additive_bad_chunk_size(bad, exc, gen):
    m = AdditiveAttention(4, 6, 8).double()
    q, k, v = additive_inputs(gen)
    with pytest.raises(exc, match="`query_chunk_size`"):
        m(q, k, v, query_chunk_size=bad)
