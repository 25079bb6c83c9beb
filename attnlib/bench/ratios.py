"""The ratio checks: each compares two variants measured in one interleaved run against a bound."""

from __future__ import annotations

import dataclasses
from typing import Sequence

import torch
import torch.nn.functional as F

from .._progress import progress_bar
from ..dot_product import scaled_dot_product_attention
from ..lm import TransformerLM
from ..tiled import tiled_attention
from .measure import attention_flops, peak_memory, pick_device, time_variants
from .results import Result
from .sweeps import _qkv_shapes, _tick, _timed_results, make_qkv, plain_attention, rule2_module


@dataclasses.dataclass
class Ratio:
    """A ratio check: ``numerator / denominator``, measured in one run, against a bound."""

    what: str
    numerator: str
    denominator: str
    value: float
    bound: float
    unit: str = "time"

    @property
    def holds(self) -> bool:
        return self.value <= self.bound

    def line(self) -> str:
        mark = "ok  " if self.holds else "MISS"
        return (f"[{mark}] {self.what}: {self.numerator} / {self.denominator} = "
                f"{self.value:.3f} ({self.unit}; target <= {self.bound:g})")


def _median(results: list[Result], variant: str) -> float:
    return next(r.median_s for r in results if r.variant == variant)


def _peak(results: list[Result], variant: str) -> int:
    return next(r.peak_bytes for r in results if r.variant == variant)


def ratio_checks(device: torch.device | str, *, rounds: int = 7, min_run_time: float = 0.3,
                 tiled_lengths: Sequence[int] = (2048, 4096),
                 block_sizes: Sequence[int] = (128, 256, 512),
                 rule2: dict | None = None, causal: dict | None = None,
                 kv_cache: dict | None = None,
                 progress: bool = False,
                 ) -> tuple[list[Result], list[Ratio]]:
    """The measurements behind the ratio checks, each group timed interleaved.

    1. ``B=8, H=8, L=S=1024, E=64``, float32: attnlib's rule 3 with
       ``need_weights=False`` against torch's SDPA, and with
       ``need_weights=True`` against :func:`plain_attention`.
    2. ``B=1, H=8, E=64``: :func:`~attnlib.tiled_attention` with each of
       ``block_sizes`` against the weights-returning path, peak memory at
       ``L=S=max(tiled_lengths)`` and time at each of ``tiled_lengths``.
    3. rule 2 (``rule2`` overrides ``dict(B=8, L=512, E=64, hidden=64, chunk=64)``):
       query chunks against the one-shot broadcast, time and peak memory.
    4. ``causal`` overrides ``dict(B=4, H=8, L=2048, E=64)``: attnlib's rule 3
       with ``is_causal=True, need_weights=False`` against torch's SDPA with
       ``is_causal=True`` (its causal kernel), float32.
    5. ``kv_cache`` overrides ``dict(prompt=16, new=256, d_model=128, nhead=4,
       num_layers=2, vocab=32)``: :meth:`attnlib.TransformerLM.generate` with the
       KV cache against without it, one sequence, untrained weights (the time
       does not depend on them), on one CPU thread as in chapter 09 (a model this
       small gains nothing from more); the cached run must take at most a quarter.
       Its results record ``threads=1`` whatever the thread count of the rest.

    Returns the results and the ratios.
    """
    device = pick_device(device)
    dtype = torch.float32
    results: list[Result] = []
    ratios: list[Ratio] = []
    cfg2 = {"B": 8, "L": 512, "E": 64, "hidden": 64, "chunk": 64, **(rule2 or {})}
    with progress_bar(4 + len(tiled_lengths), "ratios", enabled=progress) as bar:
        # 1. attnlib's rule 3 against torch and against the three plain lines
        B, H, L, E = 8, 8, 1024, 64
        q, k, v = make_qkv(B, H, L, L, E, dtype=dtype, device=device)
        fns = {
            "torch SDPA": lambda: F.scaled_dot_product_attention(q, k, v),
            "attnlib need_weights=False": lambda: scaled_dot_product_attention(
                q, k, v, need_weights=False),
            "plain three lines": lambda: plain_attention(q, k, v),
            "attnlib need_weights=True": lambda: scaled_dot_product_attention(q, k, v),
        }
        ms = time_variants(fns, device=device, rounds=rounds, min_run_time=min_run_time)
        params = {"B": B, "H": H, "L": L, "S": L, "E": E}
        group = _timed_results("ratios", ms, device, dtype, _qkv_shapes(q, k, v), params,
                               flops={n: attention_flops(B, H, L, L, E) for n in fns})
        results += group
        ratios.append(Ratio(f"rule 3, B={B} H={H} L=S={L} E={E}", "attnlib need_weights=False",
                            "torch SDPA", _median(group, "attnlib need_weights=False")
                            / _median(group, "torch SDPA"), 1.1))
        ratios.append(Ratio(f"rule 3, B={B} H={H} L=S={L} E={E}", "attnlib need_weights=True",
                            "plain three lines", _median(group, "attnlib need_weights=True")
                            / _median(group, "plain three lines"), 1.25))
        del q, k, v, fns
        _tick(bar, "rule 3")

        # 2. tiled (each block size) against the weights-returning path
        B, H, E = 1, 8, 64
        for L in sorted(tiled_lengths):
            q, k, v = make_qkv(B, H, L, L, E, dtype=dtype, device=device)
            fns = {"attnlib need_weights=True": lambda: scaled_dot_product_attention(q, k, v)}
            for bs in block_sizes:
                fns[f"tiled_attention (block {bs})"] = (
                    lambda bs=bs: tiled_attention(q, k, v, block_size=bs))
            peaks = None
            if L == max(tiled_lengths):
                peaks = {name: peak_memory(fn, device) for name, fn in fns.items()}
            ms = time_variants(fns, device=device, rounds=rounds, min_run_time=min_run_time)
            params = {"B": B, "H": H, "L": L, "S": L, "E": E}
            group = _timed_results("ratios", ms, device, dtype, _qkv_shapes(q, k, v), params,
                                   flops={n: attention_flops(B, H, L, L, E) for n in fns},
                                   peaks=peaks)
            results += group
            what = f"tiled, B={B} H={H} L=S={L} E={E}"
            for bs in block_sizes:
                tiled = f"tiled_attention (block {bs})"
                if peaks:
                    ratios.append(Ratio(what, tiled, "need_weights=True", _peak(group, tiled)
                                        / _peak(group, "attnlib need_weights=True"),
                                        1 / 8, unit="peak extra memory"))
                ratios.append(Ratio(what, tiled, "need_weights=True", _median(group, tiled)
                                    / _median(group, "attnlib need_weights=True"), 1.5))
            del q, k, v, fns
            _tick(bar, f"tiled L={L}")

        # 3. rule 2 in query chunks against the one-shot broadcast
        B, L, E, h, c = cfg2["B"], cfg2["L"], cfg2["E"], cfg2["hidden"], cfg2["chunk"]
        module = rule2_module(E, h, dtype=dtype, device=device)
        q, k, v = make_qkv(B, 1, L, L, E, dtype=dtype, device=device)
        q, k, v = (t.squeeze(1) for t in (q, k, v))  # (B, 1, L, E) -> (B, L, E)
        chunked = f"rule 2 chunked ({c})"
        fns = {"rule 2 one-shot": lambda: module(q, k, v),
               chunked: lambda: module(q, k, v, query_chunk_size=c)}
        peaks = {name: peak_memory(fn, device) for name, fn in fns.items()}
        ms = time_variants(fns, device=device, rounds=rounds, min_run_time=min_run_time)
        params = {"B": B, "L": L, "S": L, "E": E, "hidden": h, "query_chunk_size": c}
        group = _timed_results("ratios", ms, device, dtype, _qkv_shapes(q, k, v), params,
                               peaks=peaks)
        results += group
        what = f"rule 2, B={B} L=S={L} E={E} hidden={h}"
        ratios.append(Ratio(what, chunked, "one-shot",
                            _median(group, chunked) / _median(group, "rule 2 one-shot"), 1.2))
        ratios.append(Ratio(what, chunked, "one-shot",
                            _peak(group, chunked) / _peak(group, "rule 2 one-shot"),
                            1.0, unit="peak extra memory"))
        del q, k, v, fns
        _tick(bar, "rule 2")

        # 4. the causal fast path against torch's causal kernel
        cfg = {"B": 4, "H": 8, "L": 2048, "E": 64, **(causal or {})}
        B, H, L, E = cfg["B"], cfg["H"], cfg["L"], cfg["E"]
        q, k, v = make_qkv(B, H, L, L, E, dtype=dtype, device=device)
        fns = {
            "torch SDPA is_causal=True": lambda: F.scaled_dot_product_attention(
                q, k, v, is_causal=True),
            "attnlib is_causal=True need_weights=False": lambda: scaled_dot_product_attention(
                q, k, v, is_causal=True, need_weights=False),
        }
        ms = time_variants(fns, device=device, rounds=rounds, min_run_time=min_run_time)
        params = {"B": B, "H": H, "L": L, "S": L, "E": E, "is_causal": True}
        group = _timed_results("ratios", ms, device, dtype, _qkv_shapes(q, k, v), params)
        results += group
        ratios.append(Ratio(f"causal rule 3, B={B} H={H} L=S={L} E={E}",
                            "attnlib is_causal=True need_weights=False",
                            "torch SDPA is_causal=True",
                            _median(group, "attnlib is_causal=True need_weights=False")
                            / _median(group, "torch SDPA is_causal=True"), 1.1))
        del q, k, v, fns
        _tick(bar, "causal")

        # 5. greedy generation with and without the KV cache
        cfg = {"prompt": 16, "new": 256, "d_model": 128, "nhead": 4, "num_layers": 2,
               "vocab": 32, **(kv_cache or {})}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            lm = TransformerLM(cfg["vocab"], cfg["d_model"], cfg["nhead"], cfg["num_layers"],
                               max_len=cfg["prompt"] + cfg["new"]).to(device).eval()
        prompt = torch.arange(cfg["prompt"], device=device).remainder(cfg["vocab"])[None]
        fns = {f"generate use_cache={flag}": (
            lambda flag=flag: lm.generate(prompt, cfg["new"], use_cache=flag))
            for flag in (True, False)}
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # a model this small runs on one thread, as in chapter 09
        try:
            ms = time_variants(fns, device=device, rounds=max(1, rounds // 2),
                               min_run_time=min_run_time, warmup=1)
            # made before the threads are restored: each row's `threads` is the 1 it ran on
            group = _timed_results("ratios", ms, device, dtype, {"prompt": tuple(prompt.shape)},
                                   dict(cfg))
        finally:
            torch.set_num_threads(threads)
        results += group
        ratios.append(Ratio(f"KV cache, {cfg['prompt']} prompt + {cfg['new']} new tokens, "
                            f"d_model={cfg['d_model']} {cfg['nhead']} heads "
                            f"{cfg['num_layers']} layers, 1 thread",
                            "generate use_cache=True", "use_cache=False",
                            _median(group, "generate use_cache=True")
                            / _median(group, "generate use_cache=False"), 0.25))
        _tick(bar, "KV cache")
    return results, ratios
