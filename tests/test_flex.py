"""FlexAttention's mods against attnlib's dense masks and biases (float32, 1e-5)."""

import subprocess
import sys

import pytest
import torch

from attnlib import flex
from attnlib.alibi import alibi_bias, alibi_slopes
from attnlib.biased import biased_attention
from attnlib.dot_product import causal_mask
from attnlib.mask_patterns import document_mask, prefix_lm_mask
from attnlib.sliding_window import sliding_window_mask
from attnlib.relative_bias import T5RelativeBias

TOL = dict(rtol=1e-5, atol=1e-5)
B, H, L, E = 2, 4, 192, 16


@pytest.fixture(scope="module")
def qkv():
    gen = torch.Generator().manual_seed(0)
    return tuple(torch.randn(B, H, L, E, generator=gen) for _ in range(3))


DOCS = torch.tensor([[0] * 50 + [1] * 90 + [2] * 30 + [-1] * 22,  # 22 padding tokens
                     [0] * 100 + [1] * 92])
PREFIX = torch.tensor([30, 130])


def mask_cases():
    return {
        "causal": (flex.causal_mask_mod, causal_mask(L, L)),
        "window": (flex.sliding_window_mask_mod(24), sliding_window_mask(L, L, 24)),
        "documents": (flex.document_mask_mod(DOCS), document_mask(DOCS)[:, None]),
        "documents, not causal": (flex.document_mask_mod(DOCS, causal=False),
                                  document_mask(DOCS, causal=False)[:, None]),
        "prefix-LM": (flex.prefix_lm_mask_mod(40), prefix_lm_mask(L, 40)),
        "prefix-LM per sequence": (flex.prefix_lm_mask_mod(PREFIX),
                                   prefix_lm_mask(L, PREFIX)[:, None]),
    }


@pytest.mark.parametrize("name", list(mask_cases()))
def test_mask_mods_equal_the_dense_masks(qkv, name):
    q, k, v = qkv
    mod, dense = mask_cases()[name]
    torch.testing.assert_close(flex.dense_mask(mod, B, H, L, L), dense.expand(B, H, L, L))
    blocks = flex.block_mask(mod, B, None, L, L, block_size=64)
    out = flex.flex_attention(q, k, v, block_mask=blocks)
    expected, _ = biased_attention(q, k, v, dense)
    torch.testing.assert_close(out, expected, **TOL)


def test_fully_masked_rows_are_zero(qkv):
    q, k, v = qkv
    blocks = flex.block_mask(flex.document_mask_mod(DOCS), B, None, L, L, block_size=64)
    out = flex.flex_attention(q, k, v, block_mask=blocks)
    padding = DOCS[0] < 0
    assert padding.sum() == 22
    assert out[0, :, padding].abs().max() == 0 and not out.isnan().any()


def test_score_mods_equal_the_dense_biases(qkv):
    q, k, v = qkv
    slopes = alibi_slopes(H)
    torch.manual_seed(3)
    t5 = T5RelativeBias(H, num_buckets=16, max_distance=64)
    with torch.no_grad():
        t5.relative_attention_bias.weight.normal_()
        t5_bias = t5(L)
    causal = flex.block_mask(flex.causal_mask_mod, None, None, L, L, block_size=64)
    cases = [
        (flex.alibi_score_mod(slopes), None, dict(bias=alibi_bias(slopes, L))),
        (flex.alibi_score_mod(slopes), causal,
         dict(bias=alibi_bias(slopes, L), mask=causal_mask(L, L))),
        (flex.t5_score_mod(t5), None, dict(bias=t5_bias)),
        (flex.softcap_score_mod(1.5), None, dict(softcap=1.5)),
        (flex.compose_score_mods(flex.softcap_score_mod(1.5), flex.alibi_score_mod(slopes)),
         causal, dict(softcap=1.5, bias=alibi_bias(slopes, L), mask=causal_mask(L, L))),
    ]
    for score_mod, blocks, dense in cases:
        with torch.no_grad():
            out = flex.flex_attention(4 * q, k, v, score_mod=score_mod, block_mask=blocks)
        mask = dense.pop("mask", None)
        expected, _ = biased_attention(4 * q, k, v, mask, **dense)
        torch.testing.assert_close(out, expected, **TOL)


def test_block_sparsity_equals_flex_and_the_count():
    L, window, bs = 1024, 128, 128
    mask = sliding_window_mask(L, L, window)
    blocks = flex.block_mask(flex.sliding_window_mask_mod(window), None, None, L, L)
    n = L // bs  # 8 x 8 tiles; the diagonal and the one below it hold allowed pairs
    visited = n + (n - 1)
    assert flex.block_sparsity(mask, bs) == pytest.approx(1 - visited / n ** 2)
    assert flex.block_sparsity(mask, bs) == pytest.approx(blocks.sparsity() / 100)
    assert flex.block_sparsity(torch.ones(3, 5, dtype=torch.bool), 2) == 0.0
    assert flex.block_sparsity(causal_mask(4, 4), 2) == pytest.approx(0.25)


def test_mask_pattern_details():
    assert flex.dense_mask(flex.sliding_window_mask_mod(2), 1, 1, 4, 4)[0, 0].int().tolist() == [
        [1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]]
    assert prefix_lm_mask(4, 2).int().tolist() == [
        [1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]]
    assert document_mask(torch.tensor([0, 0, 1, -1])).int().tolist() == [
        [1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert prefix_lm_mask(3, torch.tensor([0, 3])).shape == (2, 3, 3)


def test_errors():
    with pytest.raises(ValueError, match="window"):
        flex.sliding_window_mask_mod(0)
    with pytest.raises(TypeError, match="document_ids"):
        document_mask(torch.zeros(4))
    with pytest.raises(ValueError, match="document_ids"):
        flex.document_mask_mod(torch.zeros(4, dtype=torch.long))
    with pytest.raises(TypeError, match="prefix_length"):
        prefix_lm_mask(4, torch.tensor([1.0]))
    with pytest.raises(ValueError, match="cap"):
        flex.softcap_score_mod(0.0)
    with pytest.raises(TypeError, match="bias"):
        flex.t5_score_mod(torch.zeros(4, 2))
    with pytest.raises(TypeError, match="mask"):
        flex.block_sparsity(torch.ones(4, 4))
    with pytest.raises(ValueError, match="query"):
        flex.flex_attention(torch.randn(2, 4, 8), torch.randn(2, 4, 8), torch.randn(2, 4, 8))


def test_a_clear_error_without_flex_attention(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def old_torch(name, *args, **kwargs):
        if name.startswith("torch.nn.attention"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", old_torch)
    with pytest.raises(ImportError, match=r"torch >= 2\.5"):
        flex.block_mask(flex.causal_mask_mod, None, None, 8, 8)
    with pytest.raises(ImportError, match=r"torch >= 2\.5"):
        flex.flex_attention(*(torch.randn(1, 1, 4, 2) for _ in range(3)))
    # the mods and the dense helpers need no FlexAttention
    assert flex.dense_mask(flex.causal_mask_mod, 1, 1, 3, 3)[0, 0].equal(causal_mask(3, 3))


def test_import_attnlib_does_not_import_flex_attention():
    code = ("import sys, attnlib, attnlib.flex; "
            "print('torch.nn.attention.flex_attention' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_the_bench_group_is_registered_and_runs(monkeypatch):
    from attnlib.bench import chapters
    from attnlib.bench import flex as bench_flex
    assert chapters.groups()["flex"] is bench_flex.flex_group
    real = flex.flex_attention
    # eager instead of compiled, so that the test does not wait for a compile
    monkeypatch.setattr(flex, "flex_attention",
                        lambda *a, compiled=False, **kw: real(*a, **kw))
    results, ratios = bench_flex.flex_group("cpu", rounds=1, min_run_time=0.01, L=256,
                                            window=64)
    assert [r.variant for r in results] == ["SDPA, dense window mask",
                                            "FlexAttention compiled, block mask",
                                            "FlexAttention first call (compile)"]
    assert len(ratios) == 1 and ratios[0].bound == pytest.approx(1 / 3) and ratios[0].value > 0
