"""ALiBi slopes and biases from the paper's formula, T5's buckets against transformers,
and the dense biased attention."""

import math

import pytest
import torch

from attnlib.alibi import alibi_bias, alibi_slopes
from attnlib.biased import biased_attention
from attnlib.masking import masked_softmax
from attnlib.relative_bias import T5RelativeBias, relative_position_bucket


def paper_slopes(n):
    """Press et al. (2022), section 3: for n a power of two, the geometric sequence that
    starts at 2^(-8/n) with ratio 2^(-8/n); otherwise the 2^a slopes of the largest power of
    two below n, then the odd-numbered slopes (1st, 3rd, ...) of 2^(a+1) heads."""
    def pow2(n):
        return [2 ** (-8 * k / n) for k in range(1, n + 1)]
    if math.log2(n).is_integer():
        return pow2(n)
    a = 2 ** math.floor(math.log2(n))
    return pow2(a) + pow2(2 * a)[0::2][:n - a]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 8, 12, 16, 20, 24, 32, 40, 64, 96])
def test_slopes_follow_the_paper(n):
    torch.testing.assert_close(alibi_slopes(n), torch.tensor(paper_slopes(n),
                                                             dtype=torch.float64))


def test_slopes_examples_from_the_paper():
    # "For 8 heads the slopes are 1/2^1, 1/2^2, ..., 1/2^8; for 16 heads we interpolate:
    # 1/2^0.5, 1/2^1, 1/2^1.5, ..., 1/2^8"
    assert alibi_slopes(8).tolist() == [1 / 2 ** k for k in range(1, 9)]
    torch.testing.assert_close(alibi_slopes(16),
                               torch.tensor([2 ** (-k / 2) for k in range(1, 17)],
                                            dtype=torch.float64))
    twelve = alibi_slopes(12).tolist()  # 8 of 8 heads, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5
    assert twelve[:8] == alibi_slopes(8).tolist()
    torch.testing.assert_close(torch.tensor(twelve[8:], dtype=torch.float64),
                               torch.tensor([2 ** -0.5, 2 ** -1.5, 2 ** -2.5, 2 ** -3.5],
                                            dtype=torch.float64))


def test_bias_is_minus_slope_times_distance():
    H, L, S = 4, 5, 7
    bias = alibi_bias(H, L, S, dtype=torch.float64)
    m = paper_slopes(H)
    for h in range(H):
        for i in range(L):
            for j in range(S):
                assert bias[h, i, j].item() == pytest.approx(-m[h] * abs(i - j))
    assert bias.shape == (H, L, S) and alibi_bias(H, 3).dtype == torch.float32
    # causal rows: the paper's [-(i-1), ..., -1, 0] * m up to the query
    row = alibi_bias(alibi_slopes(2), 4, dtype=torch.float64)[0, 3, :4]
    torch.testing.assert_close(row, torch.tensor([-3.0, -2.0, -1.0, 0.0], dtype=torch.float64)
                               * paper_slopes(2)[0])
    assert not torch.signbit(alibi_bias(2, 3)[:, 0, 0]).any()  # +0 on the diagonal


def test_alibi_errors():
    with pytest.raises(ValueError, match="num_heads"):
        alibi_slopes(0)
    with pytest.raises(TypeError, match="num_heads"):
        alibi_slopes(2.0)
    with pytest.raises(ValueError, match="slopes"):
        alibi_bias(torch.ones(2, 2), 3)
    with pytest.raises(ValueError, match="`L`"):
        alibi_bias(2, -1)


def _t5_bucket_function():
    import timm_reference  # noqa: F401  (lets transformers import torchvision; first)
    from transformers.models.t5.modeling_t5 import T5Attention
    return T5Attention._relative_position_bucket


@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("num_buckets,max_distance", [(32, 128), (8, 16), (16, 20), (6, 100),
                                                      (32, 17), (64, 256)])
def test_buckets_equal_transformers_t5(bidirectional, num_buckets, max_distance):
    reference = _t5_bucket_function()
    rel = torch.arange(-600, 601)[:, None] + torch.arange(0, 3)[None, :]  # (1201, 3)
    ours = relative_position_bucket(rel, bidirectional=bidirectional, num_buckets=num_buckets,
                                    max_distance=max_distance)
    theirs = reference(rel, bidirectional=bidirectional, num_buckets=num_buckets,
                       max_distance=max_distance)
    assert torch.equal(ours, theirs.long())
    assert ours.min() >= 0 and ours.max() < num_buckets


def test_bucket_layout():
    b = relative_position_bucket(torch.arange(-200, 201), num_buckets=32, max_distance=128)
    before, after = b[:200], b[201:]
    assert b[200] == 0  # distance 0
    assert after.min() >= 16 and before.max() < 16  # the two halves
    assert torch.equal(b[200 - 7:201].flip(0), torch.arange(8))  # exact: distances 0..7
    assert before[0] == 15 and after[-1] == 31  # far distances share the last bucket
    causal = relative_position_bucket(torch.arange(-5, 6), bidirectional=False)
    assert causal[5:].eq(0).all() and causal[:5].tolist() == [5, 4, 3, 2, 1]


def test_t5_relative_bias_module():
    torch.manual_seed(0)
    t5 = T5RelativeBias(3, num_buckets=8, max_distance=16)
    bias = t5(5, 6)  # (H, L, S)
    assert bias.shape == (3, 5, 6)
    w = t5.relative_attention_bias.weight
    for i in range(5):
        for j in range(6):
            bucket = relative_position_bucket(torch.tensor(j - i), num_buckets=8,
                                              max_distance=16)
            torch.testing.assert_close(bias[:, i, j], w[bucket])
    bias.sum().backward()
    assert w.grad is not None and w.grad.abs().sum() > 0
    assert "num_buckets=8" in repr(t5)


def test_bucket_errors():
    with pytest.raises(TypeError, match="relative_position"):
        relative_position_bucket(torch.zeros(3))
    with pytest.raises(ValueError, match="num_buckets"):
        relative_position_bucket(torch.zeros(3, dtype=torch.long), num_buckets=2)
    with pytest.raises(ValueError, match="max_distance"):
        relative_position_bucket(torch.zeros(3, dtype=torch.long), num_buckets=32,
                                 max_distance=4)
    with pytest.raises(ValueError, match="num_heads"):
        T5RelativeBias(0)


def test_biased_attention_written_out():
    torch.manual_seed(1)
    q, k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 6, 4), torch.randn(2, 3, 6, 7)
    bias = torch.randn(3, 5, 6)
    mask = torch.rand(2, 1, 5, 6) > 0.3
    mask[0, 0, 2] = False  # a fully masked row
    out, w = biased_attention(q, k, v, mask, bias=bias, softcap=2.0)
    scores = 2.0 * torch.tanh(q @ k.transpose(-2, -1) / 2 / 2.0) + bias
    expected = masked_softmax(scores, mask)
    torch.testing.assert_close(w, expected)
    torch.testing.assert_close(out, expected @ v)
    assert out[0, :, 2].abs().max() == 0 and not out.isnan().any()
    plain, _ = biased_attention(q, k, v)
    torch.testing.assert_close(plain, torch.softmax(q @ k.transpose(-2, -1) / 2, -1) @ v)


def test_biased_attention_errors():
    q = torch.randn(2, 5, 4)
    with pytest.raises(ValueError, match="bias"):
        biased_attention(q, q, q, bias=torch.zeros(3, 5))
    with pytest.raises(TypeError, match="bias"):
        biased_attention(q, q, q, bias=torch.zeros(5, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="softcap"):
        biased_attention(q, q, q, softcap=-1.0)
    with pytest.raises(TypeError, match="mask"):
        biased_attention(q, q, q, torch.ones(5, 5))
