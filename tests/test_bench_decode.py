"""The ``decode`` ratio group: its steps run, its ratios are the three the issue names."""

import pytest
import torch

from attnlib.bench.chapters import groups
from attnlib.bench.decode import decode_step

KINDS = ["full", "window", "linear", "latent naive", "latent absorbed"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_step_decodes_one_token(kind):
    step = decode_step(kind, 20, embed_dim=16, num_heads=2, window=8, kv_lora_rank=4,
                       qk_nope_head_dim=4, qk_rope_head_dim=2, v_head_dim=4)
    out = step()
    assert out.shape == (1, 1, 16) and torch.isfinite(out).all()
    if kind in ("full", "latent naive", "latent absorbed"):  # they overwrite one cache row
        torch.testing.assert_close(step(), out)


def test_naive_and_absorbed_steps_agree():
    sizes = dict(embed_dim=16, num_heads=2, kv_lora_rank=4, qk_nope_head_dim=4,
                 qk_rope_head_dim=2, v_head_dim=4)
    naive = decode_step("latent naive", 30, **sizes)()
    torch.testing.assert_close(decode_step("latent absorbed", 30, **sizes)(), naive,
                               rtol=1e-4, atol=1e-5)


def test_the_group_is_registered_and_reports_three_ratios():
    results, ratios = groups()["decode"]("cpu", rounds=1, min_run_time=0.01,
                                         contexts=(16, 64))
    assert len(results) == 8
    assert [r.bound for r in ratios] == [1.3, 1.3, pytest.approx(1 / 1.5)]
    assert all(r.threads == 1 for r in results)
    with pytest.raises(ValueError, match="`kind` must be"):
        decode_step("flash", 4)
