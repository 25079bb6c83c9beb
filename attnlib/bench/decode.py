"""Chapter 10's ratio group ``decode``: one decoding step against the context length.

One attention layer decodes one new token after ``t`` cached ones.  Full
attention reads all ``t`` cached keys and values, so its step grows with ``t``;
a sliding window reads at most ``window`` of them and linear attention a state
of fixed size, so theirs stay flat.  Latent attention read naively up-projects
all ``t`` cached latents to keys and values at every step; absorbed, it never
does.  The caches are filled with random numbers (the time does not depend on
them), in float32.
"""

from __future__ import annotations

import time
from typing import Callable

import torch

from .._progress import progress_bar
from ..grouped_query import GroupedQueryAttention
from ..latent import MultiHeadLatentAttention
from ..linear_attention import LinearSelfAttention
from ..sliding_window import SlidingWindowAttention
from .chapters import register
from .measure import _sync, pick_device
from .ratios import Ratio
from .results import Result, make_result
from .sweeps import _tick

SIZES = dict(embed_dim=256, num_heads=8, window=256, kv_lora_rank=64, qk_nope_head_dim=32,
             qk_rope_head_dim=16, v_head_dim=32)


def decode_step(kind: str, context: int, *, device: torch.device | str = "cpu",
                dtype: torch.dtype = torch.float32, seed: int = 0,
                **sizes) -> Callable[[], torch.Tensor]:
    """A callable that decodes one token after ``context`` cached ones, in one attention layer.

    ``kind`` is ``"full"`` (multi-head), ``"window"``, ``"linear"``, ``"latent naive"`` or
    ``"latent absorbed"``; ``sizes`` override :data:`SIZES`.  The cache is filled
    once, with random numbers.  Every call does the same work: full and latent
    attention write the same cache row again, the window's buffer and the linear
    state move on by one token.

    Shapes:
        - the step: ``(1, 1, E) -> (1, 1, E)``
    """
    s = {**SIZES, **sizes}
    E, H = s["embed_dim"], s["num_heads"]
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if kind == "full":
            module = GroupedQueryAttention(E, H, H)
        elif kind == "window":
            module = SlidingWindowAttention(E, H, s["window"])
        elif kind == "linear":
            module = LinearSelfAttention(E, H)
        elif kind in ("latent naive", "latent absorbed"):
            module = MultiHeadLatentAttention(E, H, **{k: s[k] for k in (
                "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")})
        else:
            raise ValueError(f"`kind` must be 'full', 'window', 'linear', 'latent naive' or "
                             f"'latent absorbed'; got {kind!r}")
    module = module.to(device=device, dtype=dtype).eval()
    state = module.new_state(1, context + 1)
    for name, tensor in vars(state).items():  # random contents; positions stay integers
        if tensor.is_floating_point():
            tensor.copy_(torch.randn(tensor.shape, generator=gen, dtype=dtype))
    if kind == "window":  # the buffer holds the last `window` positions before `context`
        held = torch.arange(max(context - s["window"], 0), context)
        state.positions[module.slot(held)] = held.to(state.positions.device)
    x = torch.randn(1, 1, E, generator=gen, dtype=dtype).to(device)
    if kind.startswith("latent"):
        absorbed = kind == "latent absorbed"
        return torch.no_grad()(lambda: module.forward_cached(x, state, context, absorbed=absorbed))
    return torch.no_grad()(lambda: module.forward_cached(x, state, context))


def time_calls(fns: dict[str, Callable[[], object]], *, device: torch.device,
               rounds: int = 7, min_run_time: float = 0.3) -> dict[str, list[float]]:
    """Seconds of every single call, interleaved: round ``r`` runs each variant for
    ``min_run_time`` seconds, in an order rotated by ``r`` (after one warm-up call each).

    Timing single calls rather than blocks lets the fastest call of a step that takes
    well under a millisecond escape the other programs of a shared machine.
    """
    names = list(fns)
    for fn in fns.values():
        fn()
    _sync(device)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            spent = 0.0
            while spent < min_run_time:
                start = time.perf_counter()
                fns[name]()
                _sync(device)
                took = time.perf_counter() - start
                times[name].append(took)
                spent += took
    return times


def _results(times: dict[str, list[float]], device) -> list[Result]:
    out = []
    for name, t in times.items():
        q = torch.tensor(t, dtype=torch.float64).quantile(torch.tensor([0.25, 0.5, 0.75],
                                                                       dtype=torch.float64))
        out.append(make_result("decode", name, device, torch.float32, {"x": (1, 1, 256)},
                               dict(SIZES), median_s=float(q[1]), iqr_s=float(q[2] - q[0]),
                               runs=len(t), note=f"fastest call {min(t) * 1e3:.3f} ms"))
    return out


@register("decode")
def decode_ratios(device: torch.device | str, *, rounds: int = 7, min_run_time: float = 0.3,
                  contexts: tuple[int, int] = (256, 4096), progress: bool = False
                  ) -> tuple[list[Result], list[Ratio]]:
    """Step time at ``contexts[1]`` over ``contexts[0]``: at most 1.3 for the window and
    linear attention; the naive latent step over the absorbed one at ``contexts[1]``: at
    least 1.5 (the ratio checked is absorbed / naive <= 1/1.5).  Full attention is
    timed alongside for comparison, with no bound.  One decoding step of one sequence is
    small work, so it runs on one CPU thread (as chapter 09's KV-cache check does); the
    results record ``threads=1``.  A step takes well under a millisecond, so single
    calls are timed (:func:`time_calls`) and the ratios compare each variant's fastest
    call, the one least disturbed by other programs; the results keep the medians and
    IQRs of all calls."""
    device = pick_device(device)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _decode_ratios(device, rounds, min_run_time, contexts, progress)
    finally:
        torch.set_num_threads(threads)


def _decode_ratios(device, rounds, min_run_time, contexts, progress):
    short, long = contexts
    ratios: list[Ratio] = []
    with progress_bar(2, "decode", enabled=progress) as bar:
        fns = {f"{kind} step, context {t}": decode_step(kind, t, device=device)
               for kind in ("full", "window", "linear") for t in (short, long)}
        flat = time_calls(fns, device=device, rounds=rounds, min_run_time=min_run_time)
        for kind in ("window", "linear"):
            ratios.append(Ratio(f"decode step, {kind}, context {long} vs {short} (fastest)",
                                f"context {long}", f"context {short}",
                                min(flat[f"{kind} step, context {long}"])
                                / min(flat[f"{kind} step, context {short}"]), 1.3))
        _tick(bar, "window and linear")
        fns = {f"latent {form} step, context {long}": decode_step(f"latent {form}", long,
                                                                  device=device)
               for form in ("naive", "absorbed")}
        latent = time_calls(fns, device=device, rounds=rounds, min_run_time=min_run_time)
        ratios.append(Ratio(f"decode step, latent attention, context {long} (fastest)",
                            "absorbed", "naive",
                            min(latent[f"latent absorbed step, context {long}"])
                            / min(latent[f"latent naive step, context {long}"]), 1 / 1.5))
        _tick(bar, "latent")
    return _results(flat, device) + _results(latent, device), ratios
