"""Sliding-window attention: the rolling buffer equals a banded causal mask; attention sinks."""

import pytest
import torch

from attnlib import GroupedQueryAttention, SlidingWindowAttention, sliding_window_mask


def band(L, window, sinks=0):
    """The mask written out entry by entry: j <= i and (i - j < window or j < sinks)."""
    mask = torch.zeros(L, L, dtype=torch.bool)
    for i in range(L):
        for j in range(i + 1):
            mask[i, j] = i - j < window or j < sinks
    return mask


def twin(window, sinks=0, G=2):
    """A window module and a plain grouped-query one with the same weights."""
    torch.manual_seed(window + 10 * sinks)
    swa = SlidingWindowAttention(16, 4, window, num_kv_heads=G, sinks=sinks).double()
    full = GroupedQueryAttention(16, 4, G).double()
    full.load_state_dict(swa.state_dict(), strict=True)
    return swa, full


@pytest.mark.parametrize("window,sinks", [(1, 0), (3, 0), (4, 2), (20, 0), (2, 1)])
def test_mask_and_forward_equal_the_written_out_band(window, sinks, gen):
    L = 11
    assert torch.equal(sliding_window_mask(L, L, window, sinks=sinks), band(L, window, sinks))
    swa, full = twin(window, sinks)
    x = torch.randn(2, L, 16, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(swa(x), full(x, mask=band(L, window, sinks)))
    if window >= L:  # a window as long as the sequence is plain causal attention
        torch.testing.assert_close(swa(x), full(x, is_causal=True))


@pytest.mark.parametrize("window,sinks", [(1, 0), (3, 0), (4, 2), (5, 1)])
@pytest.mark.parametrize("chunks", [(1,) * 13, (5, 1, 1, 6), (13,), (2, 7, 4)])
def test_rolling_buffer_equals_the_banded_forward(window, sinks, chunks, gen):
    swa, _ = twin(window, sinks)
    L = sum(chunks)
    x = torch.randn(2, L, 16, generator=gen, dtype=torch.float64)
    state = swa.new_state(2)
    assert state.keys.shape == (2, 2, sinks + window, 4)  # whatever the length
    out, start = [], 0
    for n in chunks:
        out.append(swa.forward_cached(x[:, start:start + n], state, start))
        start += n
    torch.testing.assert_close(torch.cat(out, 1), swa(x))
    # the buffer holds the sinks and the last `window` positions
    expected = set(range(min(sinks, L))) | set(range(max(L - window, 0), L))
    assert set(state.positions[state.positions >= 0].tolist()) == expected


def test_gradcheck(gen):
    swa = SlidingWindowAttention(8, 2, 2, sinks=1).double()
    x = torch.randn(1, 5, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(swa, (x,))


def test_errors():
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="`window` must be an int >= 1"):
            SlidingWindowAttention(8, 2, bad)
    with pytest.raises(ValueError, match="`sinks` must be a non-negative int"):
        SlidingWindowAttention(8, 2, 3, sinks=-1)
    with pytest.raises(ValueError, match="`window` must be an int >= 1"):
        sliding_window_mask(3, 3, 0)
    with pytest.raises(ValueError, match="`num_heads` must be a multiple of `num_kv_heads`"):
        SlidingWindowAttention(12, 3, 4, num_kv_heads=2)
    with pytest.raises(ValueError, match="`is_causal` must be True"):
        SlidingWindowAttention(8, 2, 3)(torch.randn(1, 2, 8), is_causal=False)
