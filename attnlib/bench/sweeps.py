"""The variants the performance chapter compares, and the sweeps over them."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .._progress import progress_bar
from ..additive import AdditiveAttention
from ..dot_product import scaled_dot_product_attention
from ..tiled import tiled_attention
from .measure import (attention_flops, count_flops, default_sizes, memory_method, peak_memory,
                      pick_device, time_variants)
from .results import Result, make_result

def plain_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                    scale: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Rule 3 in its three plain lines, no checks and no mask: the timing baseline.

    Shapes:
        - query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, Ev)``
        - returns ``(..., L, Ev)`` and the weights ``(..., L, S)``
    """
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query @ key.transpose(-2, -1) * scale  # (..., L, E) @ (..., E, S) -> (..., L, S)
    weights = torch.softmax(scores, dim=-1)  # (..., L, S)
    return weights @ value, weights  # (..., L, S) @ (..., S, Ev) -> (..., L, Ev)


def make_qkv(B: int, H: int, L: int, S: int, E: int, Ev: int | None = None, *,
             dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu",
             seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded random ``query (B, H, L, E)``, ``key (B, H, S, E)``, ``value (B, H, S, Ev)``."""
    Ev = E if Ev is None else Ev
    gen = torch.Generator().manual_seed(seed)
    shapes = ((B, H, L, E), (B, H, S, E), (B, H, S, Ev))
    return tuple(torch.randn(s, generator=gen).to(device=device, dtype=dtype) for s in shapes)


def _qkv_shapes(q, k, v) -> dict:
    return {"query": tuple(q.shape), "key": tuple(k.shape), "value": tuple(v.shape)}


def rule3_variants(query, key, value, *, block_size: int = 128) -> dict[str, Callable]:
    """The rule-3 implementations the chapter compares, as no-argument callables."""
    return {
        "rule 3 written out (need_weights=True)": lambda: scaled_dot_product_attention(
            query, key, value),
        "torch SDPA": lambda: F.scaled_dot_product_attention(query, key, value),
        f"tiled_attention (block {block_size})": lambda: tiled_attention(
            query, key, value, block_size=block_size),
    }


def rule2_module(E: int, hidden: int, *, dtype: torch.dtype, device: torch.device | str,
                 seed: int = 0) -> AdditiveAttention:
    """A seeded ``AdditiveAttention(E, E, hidden)`` on ``device`` in ``dtype``."""
    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        module = AdditiveAttention(E, E, hidden)
    finally:
        torch.random.set_rng_state(gen_state)
    return module.to(device=device, dtype=dtype).eval()


def _tick(bar, text: str = "") -> None:
    """One step of a :func:`~attnlib._progress.progress_bar`, labelled ``text``."""
    if text:
        bar.set_postfix_str(text, refresh=False)
    bar.update(1)


def _timed_results(sweep, measurements, device, dtype, shapes, params, *, flops=None,
                   peaks=None) -> list[Result]:
    out = []
    for name, m in measurements.items():
        out.append(make_result(
            sweep, name, device, dtype, shapes, params, median_s=m.median, iqr_s=m.iqr,
            runs=len(m.times), flops=(flops or {}).get(name),
            peak_bytes=(peaks or {}).get(name),
            memory_method=memory_method(device) if peaks and name in peaks else None))
    return out


def sweep_lengths(device: torch.device | str, *, lengths: Sequence[int] | None = None,
                  rule2_lengths: Sequence[int] | None = None, B: int | None = None,
                  H: int | None = None, E: int | None = None, dtype: torch.dtype | None = None,
                  block_size: int | None = None, query_chunk_size: int | None = None,
                  rounds: int = 3, min_run_time: float = 0.1, memory: bool = True,
                  progress: bool = False) -> list[Result]:
    """Time (and peak memory) of rules 2 and 3 and the tiled version against ``L = S``.

    Sizes default to :func:`default_sizes` of the device.  Rule 2 runs on
    ``(B*H, L, E)`` inputs with hidden size ``E``, one-shot and in query chunks,
    for ``rule2_lengths`` only.  Each length is timed with :func:`time_variants`
    (interleaved); memory is measured once per variant.
    """
    device = pick_device(device)
    sizes = default_sizes(device)
    lengths = list(lengths or sizes["lengths"])
    rule2_lengths = list(sizes["rule2_lengths"] if rule2_lengths is None else rule2_lengths)
    B, H, E = B or sizes["B"], H or sizes["H"], E or sizes["E"]
    dtype = dtype or sizes["dtype"]
    block_size = block_size or sizes["block_size"]
    query_chunk_size = query_chunk_size or sizes["query_chunk_size"]
    results = []
    with progress_bar(len(lengths), "lengths", enabled=progress) as bar:
        for L in lengths:
            q, k, v = make_qkv(B, H, L, L, E, dtype=dtype, device=device)
            fns = rule3_variants(q, k, v, block_size=block_size)
            flops = {name: attention_flops(B, H, L, L, E) for name in fns}
            if L in rule2_lengths:
                rule2 = rule2_module(E, E, dtype=dtype, device=device)
                q2, k2, v2 = (t.reshape(B * H, L, E) for t in (q, k, v))  # (B, H, L, E) -> (B*H, L, E)
                fns["rule 2 one-shot"] = lambda: rule2(q2, k2, v2)
                fns[f"rule 2 chunked ({query_chunk_size})"] = lambda: rule2(
                    q2, k2, v2, query_chunk_size=query_chunk_size)
                f2 = count_flops(lambda: rule2(q2, k2, v2))
                flops["rule 2 one-shot"] = flops[f"rule 2 chunked ({query_chunk_size})"] = f2
            peaks = {name: peak_memory(fn, device) for name, fn in fns.items()} if memory else None
            ms = time_variants(fns, device=device, rounds=rounds, min_run_time=min_run_time)
            params = {"B": B, "H": H, "L": L, "S": L, "E": E, "block_size": block_size,
                      "query_chunk_size": query_chunk_size}
            results += _timed_results("lengths", ms, device, dtype, _qkv_shapes(q, k, v), params,
                                      flops=flops, peaks=peaks)
            _tick(bar, f"L={L}")
    return results


def matmul_ceiling(device: torch.device | str, *, n: int | None = None,
                   dtype: torch.dtype | None = None, rounds: int = 3,
                   min_run_time: float = 0.2) -> Result:
    """Achieved FLOP/s of one large ``(n, n) @ (n, n)`` matmul: the device's practical ceiling."""
    device = pick_device(device)
    sizes = default_sizes(device)
    n = n or sizes["matmul_n"]
    dtype = dtype or sizes["dtype"]
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=gen).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=gen).to(device=device, dtype=dtype)
    m = time_variants({f"matmul {n}x{n}": lambda: a @ b}, device=device, rounds=rounds,
                      min_run_time=min_run_time)[f"matmul {n}x{n}"]
    return make_result("ceiling", f"matmul {n}x{n}", device, dtype, {"a": a.shape, "b": b.shape},
                       {"n": n}, median_s=m.median, iqr_s=m.iqr, runs=len(m.times),
                       flops=2 * n ** 3)


CUDA_ONLY_BACKENDS = frozenset({"EFFICIENT_ATTENTION", "CUDNN_ATTENTION"})
"""SDPA backends (names of :class:`torch.nn.attention.SDPBackend`) that have CUDA kernels only."""


def _unavailable(name: str, device: torch.device, dtype: torch.dtype,
                 err: RuntimeError) -> str:
    """The ``note`` of a backend that raised ``err``: short, and true for the device.

    On CUDA, torch's first line says why.  Elsewhere torch only says that no
    kernel was left ("No viable backend ... turning off both the math kernel
    and the fused kernels"), which misleads, so the note names the device.
    """
    if device.type == "cuda":
        text = str(err).strip()
        first = text.splitlines()[0] if text else type(err).__name__
        return f"not available: {first[:200]}"
    if name in CUDA_ONLY_BACKENDS:
        return f"not available on {device.type} (a CUDA-only backend)"
    return f"not available on {device.type} for {str(dtype).replace('torch.', '')} inputs"


def sdpa_backends(device: torch.device | str, *, L: int | None = None, B: int | None = None,
                  H: int | None = None, E: int | None = None, dtype: torch.dtype | None = None,
                  rounds: int = 3, min_run_time: float = 0.1) -> list[Result]:
    """Time torch's SDPA with each backend forced by :func:`torch.nn.attention.sdpa_kernel`.

    A backend the device or dtype does not support is recorded with no time
    and a ``note`` that starts ``"not available"``: on CUDA it goes on with
    the first line of torch's error; on another device, where torch's error
    only says that no kernel was left, it names the device, e.g.
    ``"not available on cpu (a CUDA-only backend)"`` for the backends in
    :data:`CUDA_ONLY_BACKENDS`.  Needs torch >= 2.3, where
    :mod:`torch.nn.attention` appeared (the rest of attnlib needs 2.1).
    """
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:
        raise RuntimeError(f"sdpa_backends needs torch >= 2.3 (torch.nn.attention); this is "
                           f"torch {torch.__version__}") from None

    device = pick_device(device)
    sizes = default_sizes(device)
    B, H, E = B or sizes["B"], H or sizes["H"], E or sizes["E"]
    L = L or sizes["lengths"][-2]
    dtype = dtype or sizes["dtype"]
    q, k, v = make_qkv(B, H, L, L, E, dtype=dtype, device=device)
    names = ["MATH", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION"]
    backends = {n: getattr(SDPBackend, n) for n in names if hasattr(SDPBackend, n)}
    params = {"B": B, "H": H, "L": L, "S": L, "E": E}

    def forced(backend):
        def call():
            with sdpa_kernel(backend):
                return F.scaled_dot_product_attention(q, k, v)
        return call

    fns, results = {}, []
    for name, backend in backends.items():
        try:
            with torch.no_grad():
                forced(backend)()
            fns[name] = forced(backend)
        except RuntimeError as err:
            results.append(make_result("backends", name, device, dtype, _qkv_shapes(q, k, v),
                                       params, note=_unavailable(name, device, dtype, err)))
    if fns:
        ms = time_variants(fns, device=device, rounds=rounds, min_run_time=min_run_time)
        peaks = {name: peak_memory(fn, device) for name, fn in fns.items()}
        flops = {name: attention_flops(B, H, L, L, E) for name in fns}
        results = _timed_results("backends", ms, device, dtype, _qkv_shapes(q, k, v), params,
                                 flops=flops, peaks=peaks) + results
    return results
