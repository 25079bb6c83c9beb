"""rope_frequencies against transformers' rotary initialisation, and apply_rotary(inv_freq=)."""

import math

import pytest
import torch

from attnlib import apply_rotary
from attnlib.rope_scaling import rope_frequencies


def _hf():
    from transformers_reference import LlamaConfig  # (imports timm_reference first)
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    return ROPE_INIT_FUNCTIONS, LlamaConfig


CASES = [
    # (transformers rope_parameters, max_position_embeddings, seq_len, our keywords)
    (dict(rope_type="linear", factor=2.0), 64, None, dict(method="linear", factor=2.0)),
    (dict(rope_type="linear", factor=8.0, rope_theta=500.0), 64, None,
     dict(method="linear", factor=8.0, base=500.0)),
    (dict(rope_type="dynamic", factor=2.0), 64, None,
     dict(method="dynamic", factor=2.0, original_max_position=64)),
    (dict(rope_type="dynamic", factor=2.0), 64, 100,
     dict(method="dynamic", factor=2.0, original_max_position=64, seq_len=100)),
    (dict(rope_type="dynamic", factor=4.0, rope_theta=100.0), 32, 50,
     dict(method="dynamic", factor=4.0, original_max_position=32, seq_len=50, base=100.0)),
    (dict(rope_type="yarn", factor=4.0, original_max_position_embeddings=64), 256, None,
     dict(method="yarn", factor=4.0, original_max_position=64)),
    (dict(rope_type="yarn", factor=2.0, rope_theta=500.0, original_max_position_embeddings=32,
          beta_fast=8, beta_slow=2), 64, None,
     dict(method="yarn", factor=2.0, original_max_position=32, base=500.0, beta_fast=8,
          beta_slow=2)),
    (dict(rope_type="yarn", factor=2.0, original_max_position_embeddings=4096,
          attention_factor=1.5, truncate=False), 8192, None,
     dict(method="yarn", factor=2.0, original_max_position=4096, attention_factor=1.5,
          truncate=False)),
]


@pytest.mark.parametrize("head_dim", [8, 16, 64])
@pytest.mark.parametrize("params,max_pos,seq_len,ours", CASES)
def test_equal_to_transformers(head_dim, params, max_pos, seq_len, ours):
    init, LlamaConfig = _hf()
    rope = {"rope_theta": 10000.0, **params}
    config = LlamaConfig(hidden_size=2 * head_dim, num_attention_heads=2,
                         max_position_embeddings=max_pos, rope_parameters=rope)
    inv_freq, scaling = init[params["rope_type"]](config, None, seq_len=seq_len)
    mine, my_scaling = rope_frequencies(head_dim, **ours)
    assert mine.shape == (head_dim // 2,) and mine.dtype == torch.float64
    torch.testing.assert_close(mine, inv_freq.double(), rtol=1e-6, atol=0)
    assert my_scaling == pytest.approx(scaling, rel=1e-12)


def test_ntk_is_a_larger_base():
    d, s = 16, 4.0
    inv, scale = rope_frequencies(d, method="ntk", factor=s)
    new_base = 10000.0 * s ** (d / (d - 2))
    torch.testing.assert_close(inv, new_base ** (-torch.arange(0, d, 2) / d).double())
    default, _ = rope_frequencies(d)
    assert inv[0] == default[0] == 1.0  # the fastest pair keeps its frequency
    torch.testing.assert_close(inv[-1], default[-1] / s)  # the slowest is divided by s
    assert scale == 1.0


def test_methods_against_their_definitions():
    d = 32
    w = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    torch.testing.assert_close(rope_frequencies(d)[0], w)
    torch.testing.assert_close(rope_frequencies(d, method="linear", factor=3.0)[0], w / 3)
    yarn, t = rope_frequencies(d, method="yarn", factor=4.0, original_max_position=64)
    turns = 64 * w / (2 * math.pi)  # how often each pair turns in the training length
    assert torch.equal(yarn[turns > 32], w[turns > 32])  # fast pairs: kept
    torch.testing.assert_close(yarn[turns < 1], w[turns < 1] / 4)  # slow ones: interpolated
    assert t == pytest.approx(0.1 * math.log(4.0) + 1)
    assert rope_frequencies(d, method="dynamic", factor=2.0, original_max_position=64,
                            seq_len=10)[0].equal(w)  # shorter than trained: unchanged


def test_apply_rotary_with_frequencies():
    torch.manual_seed(0)
    x = torch.randn(2, 7, 8, dtype=torch.float64)
    torch.testing.assert_close(apply_rotary(x, inv_freq=rope_frequencies(8, base=100.0)[0]),
                               apply_rotary(x, base=100.0))
    inv, _ = rope_frequencies(8, method="linear", factor=2.0)
    # interpolation by 2: position m is rotated as position m/2 was; even rows match
    slow = apply_rotary(x, inv_freq=inv)
    torch.testing.assert_close(slow[:, 2::2], apply_rotary(x[:, 2::2], offset=1))
    with pytest.raises(ValueError, match="inv_freq"):
        apply_rotary(x, inv_freq=torch.ones(3))
    with pytest.raises(TypeError, match="inv_freq"):
        apply_rotary(x, inv_freq=[1.0, 2.0, 3.0, 4.0])


def test_errors():
    with pytest.raises(ValueError, match="method"):
        rope_frequencies(8, method="ntk-by-parts")
    with pytest.raises(ValueError, match="even"):
        rope_frequencies(7)
    with pytest.raises(ValueError, match="factor"):
        rope_frequencies(8, method="linear", factor=0.5)
    with pytest.raises(ValueError, match="original_max_position"):
        rope_frequencies(8, method="yarn", factor=2.0)
