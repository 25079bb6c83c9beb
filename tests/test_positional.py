"""sinusoidal_positional_encoding: the formula entry by entry, its rotation property, errors."""

import math

import pytest
import torch

from attnlib import sinusoidal_positional_encoding as pe_table


def by_formula(length, dim, base=10000.0):
    """PE(p, 2i) = sin(p / base^(2i/dim)), PE(p, 2i+1) = cos(p / base^(2i/dim)), entry by entry."""
    out = torch.zeros(length, dim, dtype=torch.float64)
    for p in range(length):
        for j in range(dim):
            i = j // 2
            angle = p / base ** (2 * i / dim)
            out[p, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return out


@pytest.mark.parametrize("length,dim", [(1, 1), (7, 6), (9, 5), (50, 16), (3, 2)])
@pytest.mark.parametrize("base", [10000.0, 100, 2.5])
def test_equals_the_formula_entry_by_entry(length, dim, base):
    pe = pe_table(length, dim, base=base, dtype=torch.float64)
    assert pe.shape == (length, dim)
    torch.testing.assert_close(pe, by_formula(length, dim, base), rtol=1e-12, atol=1e-12)


def test_the_common_exp_log_form_agrees():
    """Many codebases write the frequencies as exp(-2i * log(base) / dim)."""
    length, dim = 64, 32
    position = torch.arange(length, dtype=torch.float64)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float64) * (-math.log(10000.0) / dim))
    expected = torch.stack([torch.sin(position * freq), torch.cos(position * freq)], dim=-1)
    expected = expected.reshape(length, dim)  # (length, dim/2, 2) -> (length, dim): interleaved
    torch.testing.assert_close(pe_table(length, dim, dtype=torch.float64), expected)


def test_position_zero_is_sin0_cos0():
    assert pe_table(3, 6)[0].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    assert pe_table(3, 5)[0].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0]


def rotation(k, dim, base=10000.0):
    """The block-diagonal M_k with PE(p + k) = M_k PE(p): one 2x2 rotation per frequency."""
    M = torch.zeros(dim, dim, dtype=torch.float64)
    for i in range(dim // 2):
        a = k / base ** (2 * i / dim)
        M[2 * i:2 * i + 2, 2 * i:2 * i + 2] = torch.tensor(
            [[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]], dtype=torch.float64)
    return M


@pytest.mark.parametrize("k", [1, 3, -2, 17])
def test_shifting_by_k_is_one_rotation_for_every_position(k):
    length, dim = 40, 12
    pe = pe_table(length, dim, dtype=torch.float64)
    M = rotation(k, dim)
    p = torch.arange(max(0, -k), min(length, length - k))
    torch.testing.assert_close(pe[p + k], pe[p] @ M.T, rtol=1e-10, atol=1e-10)
    # and M_k is orthogonal, so the rows all have the same length sqrt(dim / 2)
    torch.testing.assert_close(M @ M.T, torch.eye(dim, dtype=torch.float64))
    torch.testing.assert_close(pe.norm(dim=1), torch.full((length,), math.sqrt(dim / 2),
                                                          dtype=torch.float64))


def test_dot_product_depends_only_on_the_offset():
    length, dim = 30, 16
    pe = pe_table(length, dim, dtype=torch.float64)
    gram = pe @ pe.T  # (length, length)
    omega = 10000.0 ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    for k in range(length):
        expected = torch.cos(k * omega).sum()
        torch.testing.assert_close(torch.diagonal(gram, k), expected.expand(length - k))


def test_values_are_bounded_and_float32_is_accurate_far_out():
    pe64 = pe_table(10000, 64, dtype=torch.float64)
    pe32 = pe_table(10000, 64, dtype=torch.float32)
    assert pe32.dtype == torch.float32 and pe64.abs().max() <= 1
    # computed in float64, then rounded: no error growing with the position
    torch.testing.assert_close(pe32, pe64.float(), rtol=0, atol=1e-7)


def test_default_dtype_and_device(device):
    assert pe_table(4, 4).dtype == torch.get_default_dtype()
    pe = pe_table(4, 4, device=device, dtype=torch.float64)
    assert pe.device.type == device.type
    torch.testing.assert_close(pe.cpu(), by_formula(4, 4))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision(dtype):
    pe = pe_table(100, 8, dtype=dtype)
    assert pe.dtype == dtype
    torch.testing.assert_close(pe.double(), by_formula(100, 8), rtol=0, atol=1e-2)


ERRORS = [
    ("length negative", dict(length=-1, dim=4), ValueError,
     r"`length` must be a non-negative int; got -1"),
    ("length float", dict(length=2.5, dim=4), TypeError,
     r"`length` must be a non-negative int; got float 2.5"),
    ("dim zero", dict(length=3, dim=0), ValueError, r"`dim` must be a positive int; got 0"),
    ("dim negative", dict(length=3, dim=-1), ValueError, r"`dim` must be a positive int; got -1"),
    ("dim bool", dict(length=3, dim=True), TypeError, r"`dim` must be a positive int; got bool"),
    ("base zero", dict(length=3, dim=4, base=0), ValueError,
     r"`base` must be a positive, finite number; got 0"),
    ("base str", dict(length=3, dim=4, base="1e4"), TypeError,
     r"`base` must be a positive number; got str '1e4'"),
    ("dtype int", dict(length=3, dim=4, dtype=torch.int64), TypeError,
     r"`dtype` must be a floating-point dtype; got torch.int64"),
    ("dtype str", dict(length=3, dim=4, dtype="float32"), TypeError,
     r"`dtype` must be a torch.dtype such as torch.float32; got str 'float32'"),
]


@pytest.mark.parametrize("kwargs,exc,pattern", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_bad_input_gets_a_helpful_error(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        pe_table(**kwargs)
