"""Chapter 9's checkers pass the book's solutions and fail typical wrong answers with their hint."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnlib import exercises as ex
from conftest import fails_with, stub


@pytest.mark.parametrize("checker", [ex.check_rotary, ex.check_grouped_query_attention,
                                     ex.check_pre_ln_block])
def test_stub_and_junk(checker):
    fails_with(checker(stub), "not done yet")
    fails_with(checker(lambda *a: None), "did you forget a `return`?")
    fails_with(checker(lambda *a: 1 / 0), "raised ZeroDivisionError")
    fails_with(checker("not a function"), "expected a function")
    fails_with(checker(lambda *a: torch.zeros(1)), "expected shape")


# the book's solutions ------------------------------------------------------------------

def rotate(x, *, halves=False, sign=1.0):
    L, E = x.shape[-2], x.shape[-1]
    omega = 10000.0 ** (-torch.arange(0, E, 2, dtype=x.dtype) / E)  # (E/2,)
    angle = sign * torch.arange(L, dtype=x.dtype)[:, None] * omega  # (L, E/2)
    cos, sin = angle.cos(), angle.sin()
    if halves:
        x0, x1 = x[..., : E // 2], x[..., E // 2:]
        return torch.cat((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1)
    x0, x1 = x[..., 0::2], x[..., 1::2]  # (..., L, E/2) each
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


def gqa(q, k, v, *, tile=False, scale=True):
    groups = q.shape[1] // k.shape[1]
    if tile:
        k, v = k.repeat(1, groups, 1, 1), v.repeat(1, groups, 1, 1)
    else:
        k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    scores = q @ k.transpose(-2, -1) / (math.sqrt(q.shape[-1]) if scale else 1.0)
    return torch.softmax(scores, dim=-1) @ v


def pre_ln(x, layer, *, post=False, second_residual=True):
    if post:
        x = layer.norm1(x + layer.self_attn(x, x, x, need_weights=False)[0])
        return layer.norm2(x + layer.linear2(F.relu(layer.linear1(x))))
    h = layer.norm1(x)
    x = x + layer.self_attn(h, h, h, need_weights=False)[0]
    ff = layer.linear2(F.relu(layer.linear1(layer.norm2(x))))
    return x + ff if second_residual else ff


def test_rotary():
    assert ex.check_rotary(rotate).passed
    fails_with(ex.check_rotary(lambda x: rotate(x, halves=True)), "feature i + E/2")
    fails_with(ex.check_rotary(lambda x: rotate(x, sign=-1.0)), "turns the wrong way")
    fails_with(ex.check_rotary(lambda x: x), "compare your result with the reference")


def test_grouped_query_attention():
    assert ex.check_grouped_query_attention(gqa).passed
    fails_with(ex.check_grouped_query_attention(lambda q, k, v: gqa(q, k, v, tile=True)),
               "use repeat_interleave")
    fails_with(ex.check_grouped_query_attention(lambda q, k, v: gqa(q, k, v, scale=False)),
               "divide the scores by sqrt(E)")
    fails_with(ex.check_grouped_query_attention(  # broadcasts for G = 1, not for G = 2
        lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1) / 2.0, -1) @ v),
        "raised RuntimeError")


def test_pre_ln_block():
    assert ex.check_pre_ln_block(pre_ln).passed
    fails_with(ex.check_pre_ln_block(lambda x, l: pre_ln(x, l, post=True)), "that is post-LN")
    fails_with(ex.check_pre_ln_block(lambda x, l: pre_ln(x, l, second_residual=False)),
               "second residual")


def test_grouped_query_report_shows_where_tiling_differs():
    # .repeat instead of repeat_interleave: head 0 is right, so the first entries agree;
    # the report must show entries that differ, not the first six.
    report = ex.check_grouped_query_attention(lambda q, k, v: gqa(q, k, v, tile=True))
    fails_with(report, "around the largest difference")
    expected, got = (next(line for line in report.lines if line.startswith(word))
                     for word in ("expected ", "got "))
    assert expected.split(None, 1)[1] != got.split(None, 1)[1], str(report)
    assert max(len(expected), len(got)) <= 72, str(report)


@pytest.mark.skipif(torch.__version__ < "2.5",  # TorchVersion compares as a version
                    reason="scaled_dot_product_attention(..., enable_gqa=True) needs torch 2.5+")
def test_grouped_query_reference_is_torchs_enable_gqa():
    # The checker builds its reference with repeat_interleave (torch 2.1); torch 2.5's
    # enable_gqa=True must give the same answers.
    import torch.nn.functional as F

    def torch_gqa(q, k, v):
        return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)

    assert ex.check_grouped_query_attention(torch_gqa).passed
