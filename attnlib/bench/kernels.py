"""Chapter 12's timing sweep: the Triton kernel against torch's fused SDPA backends.

:func:`kernel_sweep` times :func:`attnlib.flash_attention` and
:func:`torch.nn.functional.scaled_dot_product_attention` with each fused backend
forced, forward alone and forward plus backward, across lengths ``L = S``, and
records the FLOPs of each call so that a :class:`~attnlib.bench.results.Result`
gives the achieved FLOP/s.  Made for a CUDA GPU; on a CPU the kernel runs through
Triton's interpreter, so the numbers there check the code, not the speed.

The ratio group ``kernels`` (``python -m attnlib.bench --sweeps kernels``) checks the
chapter's prediction that a causal kernel, which skips the tiles above the diagonal,
takes at most 0.75 of the time of a full one: it runs ``(T + 1) / 2T`` of the tiles for
``T`` blocks a side (0.56 for ``T = 8``, 0.51 for ``T = 64``), plus the work of each
program that does not depend on the tiles.  It holds in the interpreter too, whose time
follows the tiles it runs: there ``L = S = 256`` with 32-row blocks.
On a CPU it needs ``TRITON_INTERPRET=1`` before triton is imported; without it, or
without Triton, the group records why and checks nothing.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .chapters import register
from .measure import pick_device, time_variants
from .ratios import Ratio
from .results import Result, make_result
from .sweeps import _qkv_shapes, _timed_results, make_qkv

KERNEL = "flash_attention (Triton)"
BACKENDS = ("FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION")
"""torch's fused SDPA backends compared with the kernel (those the device lacks are noted)."""


def kernel_flops(B: int, H: int, L: int, S: int, E: int, *, is_causal: bool = False,
                 backward: bool = False) -> int:
    """Matmul FLOPs of attention, forward (``4 L S E`` per head) or forward plus backward.

    The backward does five products of the forward's size (``QK^T`` again, then
    ``dV``, ``dP``, ``dQ`` and ``dK``), 2.5 forwards, so forward plus backward is
    3.5 forwards (Dao, 2023).  Causal attention does about half of each.
    """
    flops = 4 * B * H * L * S * E * (3.5 if backward else 1.0)
    return int(flops / 2 if is_causal else flops)


def kernel_sweep(device: torch.device | str, *, lengths: Sequence[int] = (1024, 2048, 4096),
                 B: int = 4, H: int = 16, E: int = 64, dtype: torch.dtype = torch.float16,
                 is_causal: bool = False, rounds: int = 3,
                 min_run_time: float = 0.1) -> list[Result]:
    """Time the kernel and torch's fused backends, forward and forward plus backward.

    Variants are named ``"<implementation>, forward"`` and ``"<implementation>,
    forward+backward"``; a backend the device or dtype lacks is recorded with no
    time and a ``note`` that starts ``"not available"``.  Needs torch >= 2.3
    (:mod:`torch.nn.attention`) to force the backends.

    Shapes:
        - every length: query, key and value ``(B, H, L, E)`` with ``S = L``
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from ..flash import flash_attention

    device = torch.device(device)
    results = []
    for L in lengths:
        q, k, v = make_qkv(B, H, L, L, E, dtype=dtype, device=device)
        q, k, v = (t.requires_grad_() for t in (q, k, v))
        impls: dict[str, Callable] = {
            KERNEL: lambda a, b, c: flash_attention(a, b, c, is_causal=is_causal)}
        notes = {}
        for name in BACKENDS:
            backend = getattr(SDPBackend, name, None)
            impl = _forced(sdpa_kernel, backend, is_causal)
            try:
                with torch.no_grad():
                    impl(q, k, v)
                impls[f"SDPA {name}"] = impl
            except (RuntimeError, TypeError) as err:
                first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                notes[f"SDPA {name}"] = f"not available: {first[:160]}"
        fns = {}
        for name, impl in impls.items():
            fns[f"{name}, forward"] = _forward(impl, q, k, v)
            fns[f"{name}, forward+backward"] = _forward_backward(impl, q, k, v)
        params = {"B": B, "H": H, "L": L, "S": L, "E": E, "is_causal": is_causal}
        shapes = {"query": q.shape, "key": k.shape, "value": v.shape}
        ms = time_variants(fns, device=device, rounds=rounds, min_run_time=min_run_time)
        for name, m in ms.items():
            flops = kernel_flops(B, H, L, L, E, is_causal=is_causal,
                                 backward=name.endswith("backward"))
            results.append(make_result("kernels", name, device, dtype, shapes, params,
                                       median_s=m.median, iqr_s=m.iqr, runs=len(m.times),
                                       flops=flops))
        for name, note in notes.items():
            for mode in ("forward", "forward+backward"):
                results.append(make_result("kernels", f"{name}, {mode}", device, dtype, shapes,
                                           params, note=note))
    return results


def _forced(sdpa_kernel, backend, is_causal: bool) -> Callable:
    """SDPA with one backend forced."""
    def call(q, k, v):
        if backend is None:
            raise RuntimeError("this torch has no such backend")
        with sdpa_kernel(backend):
            return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    return call


def _forward(impl, q, k, v) -> Callable[[], object]:
    def call():
        with torch.no_grad():
            return impl(q, k, v)
    return call


def _forward_backward(impl, q, k, v) -> Callable[[], object]:
    grad = torch.ones(*q.shape[:-1], v.shape[-1], dtype=q.dtype, device=q.device)

    def call():
        with torch.enable_grad():  # time_variants runs everything under no_grad
            out = impl(q, k, v)
            return torch.autograd.grad(out, (q, k, v), grad)
    return call


@register("kernels")
def causal_ratio(device: torch.device | str, *, rounds: int = 7, min_run_time: float = 0.3,
                 progress: bool = False) -> tuple[list[Result], list[Ratio]]:
    """``(results, ratios)``: the kernel's causal forward over its full forward, <= 0.75.

    On CUDA ``B=4, H=16, L=S=4096, E=64`` in float16 with 64-row blocks; elsewhere,
    through the interpreter, ``B=H=1, L=S=256, E=64`` in float32 with 32-row blocks.
    """
    from ..flash import flash_attention

    device = pick_device(device)
    cuda = device.type == "cuda"
    B, H, L, E = (4, 16, 4096, 64) if cuda else (1, 1, 256, 64)
    dtype, block = (torch.float16, 64) if cuda else (torch.float32, 32)
    q, k, v = make_qkv(B, H, L, L, E, dtype=dtype, device=device)
    params = {"B": B, "H": H, "L": L, "S": L, "E": E, "block": block}
    fns = {f"{KERNEL}, {name}": (lambda causal=causal: flash_attention(
        q, k, v, is_causal=causal, block_m=block, block_n=block))
        for name, causal in (("full", False), ("causal", True))}
    try:
        fns[f"{KERNEL}, full"]()
    except (ImportError, ValueError) as err:  # no Triton, or a CPU without the interpreter
        note = f"not available: {str(err).splitlines()[0][:200]}"
        return [make_result("kernels", name, device, dtype, _qkv_shapes(q, k, v), params,
                            note=note) for name in fns], []
    ms = time_variants(fns, device=device, rounds=rounds, min_run_time=min_run_time)
    flops = {f"{KERNEL}, full": kernel_flops(B, H, L, L, E),
             f"{KERNEL}, causal": kernel_flops(B, H, L, L, E, is_causal=True)}
    results = _timed_results("kernels", ms, device, dtype, _qkv_shapes(q, k, v), params,
                             flops=flops)
    value = ms[f"{KERNEL}, causal"].median / ms[f"{KERNEL}, full"].median
    ratio = Ratio(f"Triton kernel, causal skips tiles, B={B} H={H} L=S={L} E={E}",
                  "causal", "full", value, 0.75)
    return results, [ratio]
