"""Chapter 11's ratio: compiled FlexAttention with a sliding-window block mask against dense SDPA.

``B=1, H=4, L=S=4096, E=64``, float32, a causal window of 256 keys: the block
mask skips the ``128 x 128`` tiles with no allowed pair (about 91 % of them),
while :func:`torch.nn.functional.scaled_dot_product_attention` with the same
mask as a dense ``(L, S)`` boolean tensor computes every score.  The compiled
FlexAttention must take at most a third of the time.  The compile itself runs
once before the timing and is reported as its own result.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from .. import flex
from ..sliding_window import sliding_window_mask
from .chapters import register
from .measure import pick_device, time_variants
from .ratios import Ratio
from .results import make_result
from .sweeps import _qkv_shapes, _timed_results, make_qkv


@register("flex")
def flex_group(device, *, rounds: int = 7, min_run_time: float = 0.3, progress: bool = False,
               B: int = 1, H: int = 4, L: int = 4096, E: int = 64, window: int = 256):
    """``(results, ratios)``: compiled FlexAttention (window block mask) vs SDPA (dense mask)."""
    device = pick_device(device)
    dtype = torch.float32
    q, k, v = make_qkv(B, H, L, L, E, dtype=dtype, device=device)
    mask = sliding_window_mask(L, L, window, device=device)  # (L, S) bool
    blocks = flex.block_mask(flex.sliding_window_mask_mod(window), None, None, L, L,
                             device=device)
    start = time.perf_counter()
    out = flex.flex_attention(q, k, v, block_mask=blocks, compiled=True)  # compiles
    compile_s = time.perf_counter() - start
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
                               rtol=1e-4, atol=1e-4)
    fns = {
        "SDPA, dense window mask": lambda: F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask),
        "FlexAttention compiled, block mask": lambda: flex.flex_attention(
            q, k, v, block_mask=blocks, compiled=True),
    }
    ms = time_variants(fns, device=device, rounds=rounds, min_run_time=min_run_time)
    params = {"B": B, "H": H, "L": L, "S": L, "E": E, "window": window,
              "block_sparsity": round(flex.block_sparsity(mask), 4)}
    results = _timed_results("flex", ms, device, dtype, _qkv_shapes(q, k, v), params)
    results.append(make_result("flex", "FlexAttention first call (compile)", device, dtype,
                               _qkv_shapes(q, k, v), params, median_s=compile_s, iqr_s=0.0,
                               runs=1))
    value = (ms["FlexAttention compiled, block mask"].median
             / ms["SDPA, dense window mask"].median)
    ratio = Ratio(f"sliding window {window}, B={B} H={H} L=S={L} E={E}",
                  "FlexAttention compiled, block mask", "SDPA, dense window mask", value,
                  1 / 3)
    return results, [ratio]
