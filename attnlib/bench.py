"""Timing and peak-memory measurements for the performance chapter.

Everything here measures *one device* and says which: every :class:`Result`
carries the device and its name, the torch version, the dtype, the shapes and
the number of CPU threads, and a list of results can be saved as CSV or JSON.

Timing
    :func:`time_variants` is built on :class:`torch.utils.benchmark.Timer`:
    each variant is called a few times first (warm-up), then timed with
    ``blocked_autorange`` (CUDA is synchronised around every timed block, by the
    Timer itself).  The variants are *interleaved*: round ``r`` times each of
    them once, in an order rotated by ``r``, so background load on a shared
    machine falls on all of them alike.  The rounds of one variant are merged
    into one :class:`torch.utils.benchmark.Measurement`, whose median and
    interquartile range (IQR) are reported.  Timings run under
    :func:`torch.no_grad` (inference) with the current thread count.

Peak memory
    :func:`peak_memory` returns the *extra* bytes a call needs at its peak,
    counted from the moment it starts (tensors that existed before are not
    counted; the returned output is).

    - CUDA: ``torch.cuda.reset_peak_memory_stats``, then
      ``max_memory_allocated() - memory_allocated()`` around the call.
    - CPU: PyTorch has no peak counter for the CPU, so the call runs under
      :class:`torch.profiler.profile` with ``profile_memory=True``.  The profiler
      records every allocation and free made through PyTorch's CPU allocator,
      with a timestamp and a signed size; the running sum of those sizes, in
      time order, is the memory the call holds, and its maximum is the peak.
      This is exact for tensors (including the work buffers that kernels such as
      the fused attention allocate) and deterministic for a given torch build
      and thread count.  Memory that libraries such as MKL or OpenMP allocate
      on their own, and Python objects, are not seen.  The profiler's tracing
      library prints two ``USDT ... profiler_start/stop`` lines on the
      process's standard error each time; they carry nothing we use, so file
      descriptor 2 is pointed at ``os.devnull`` while the profiler runs.

Devices and sizes
    :func:`pick_device` takes CUDA when there is one, else the CPU;
    :func:`default_sizes` gives sizes and a dtype that suit the device (small
    ``float32`` problems on a CPU, ``float16`` and long sequences on a GPU).

Command line
    ``python -m attnlib.bench --out results/bench`` runs the chapter's sweeps
    (the issue's ratio checks, time and memory against sequence length, the
    matmul ceiling, and the SDPA backends) on the picked device, writes
    ``<device>_<sweep>.csv`` and ``.json`` files into ``--out``, and prints
    the ratios.  ``python -m attnlib.bench --help`` lists the options.

Shape legend: ``B`` batch, ``H`` heads, ``L`` query length, ``S`` key/value
length, ``E`` query/key feature size, ``Ev`` value feature size.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import json
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F
from torch.utils import benchmark

from . import _checks
from .additive import AdditiveAttention
from .dot_product import scaled_dot_product_attention
from .tiled import tiled_attention

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16,
           "float64": torch.float64}


# --------------------------------------------------------------------------- devices


def pick_device(name: str | torch.device | None = None) -> torch.device:
    """The device to measure on: ``name`` if given, else CUDA when present, else the CPU.

    ``name`` may be ``"auto"`` (the same as ``None``), ``"cpu"``, ``"cuda"``
    or ``"cuda:1"``; asking for CUDA where there is none raises ``ValueError``.
    """
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"`device` is {str(device)!r} but torch.cuda.is_available() is False "
                         f"(torch {torch.__version__}); use 'cpu' or 'auto'")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"`device` must be 'cpu', 'cuda' or 'auto'; got {str(device)!r}")
    return device


def device_name(device: torch.device | str) -> str:
    """A readable name: the GPU's name, or the CPU's model name from the operating system."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def environment(device: torch.device | str) -> dict:
    """What a measurement depends on: device, its name, torch, threads, load, Python."""
    device = torch.device(device)
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):  # not on every platform
        load = None
    return {
        "device": str(device),
        "device_name": device_name(device),
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_avg": load,
        "python": platform.python_version(),
    }


def default_sizes(device: torch.device | str) -> dict:
    """Sizes and dtype that suit the device: small on a CPU, long sequences on a GPU.

    Returns a dict with ``dtype``, ``B``, ``H``, ``E``, ``lengths`` (for the
    sweeps over ``L = S``), ``rule2_lengths`` (rule 2's one-shot broadcast is
    ``(B*H, L, S, E)``, so it stops earlier), ``block_size`` (for
    :func:`~attnlib.tiled_attention`), ``query_chunk_size`` (for rule 2) and
    ``matmul_n`` (the size of the square matmul used as the ceiling).
    """
    device = torch.device(device)
    if device.type == "cuda":
        return {"dtype": torch.float16, "B": 4, "H": 16, "E": 64,
                "lengths": [1024, 2048, 4096, 8192, 16384], "rule2_lengths": [1024, 2048],
                "block_size": 512, "query_chunk_size": 256, "matmul_n": 8192}
    return {"dtype": torch.float32, "B": 1, "H": 8, "E": 64,
            "lengths": [256, 512, 1024, 2048, 4096], "rule2_lengths": [256, 512, 1024],
            "block_size": 128, "query_chunk_size": 64, "matmul_n": 2048}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------- results


@dataclasses.dataclass
class Result:
    """One measured variant on one problem, with everything it depends on.

    ``median_s`` and ``iqr_s`` are seconds per call; ``runs`` is how many timed
    blocks they come from.  ``peak_bytes`` is the call's extra memory at its
    peak (see :func:`peak_memory`).  Fields that were not measured are ``None``.
    """

    sweep: str
    variant: str
    device: str
    device_name: str
    torch_version: str
    threads: int
    dtype: str
    shapes: str
    params: dict = dataclasses.field(default_factory=dict)
    median_s: float | None = None
    iqr_s: float | None = None
    runs: int | None = None
    peak_bytes: int | None = None
    memory_method: str | None = None
    flops: int | None = None
    load_avg: list | None = None
    note: str = ""

    @property
    def flop_per_s(self) -> float | None:
        """``flops / median_s``, the achieved rate (``None`` if either is missing)."""
        if self.flops is None or not self.median_s:
            return None
        return self.flops / self.median_s

    def row(self) -> dict:
        """A flat dict for a CSV row: ``params`` are spread out as ``param_<name>``."""
        d = dataclasses.asdict(self)
        params = d.pop("params")
        d["load_avg"] = " ".join(str(x) for x in self.load_avg) if self.load_avg else ""
        d["flop_per_s"] = self.flop_per_s
        d.update({f"param_{k}": v for k, v in params.items()})
        return d


def make_result(sweep: str, variant: str, device: torch.device | str, dtype: torch.dtype,
                shapes: dict[str, Sequence[int]] | str, params: dict | None = None,
                **fields) -> Result:
    """A :class:`Result` with the environment of ``device`` filled in."""
    env = environment(device)
    if not isinstance(shapes, str):
        shapes = ", ".join(f"{k} {tuple(v)}" for k, v in shapes.items())
    return Result(sweep=sweep, variant=variant, device=env["device"],
                  device_name=env["device_name"], torch_version=env["torch_version"],
                  threads=env["threads"], dtype=str(dtype).replace("torch.", ""),
                  shapes=shapes, params=dict(params or {}), load_avg=env["load_avg"], **fields)


def save_results(results: Iterable[Result], path: str | Path) -> Path:
    """Write results to ``path``: JSON if it ends in ``.json``, CSV if ``.csv``."""
    path = Path(path)
    results = list(results)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        data = [dataclasses.asdict(r) for r in results]
        path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    elif path.suffix == ".csv":
        rows = [r.row() for r in results]
        fields: list[str] = []
        for row in rows:
            fields += [k for k in row if k not in fields]
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    else:
        raise ValueError(f"`path` must end in .json or .csv; got {str(path)!r}")
    return path


def load_results(path: str | Path) -> list[Result]:
    """Read results saved as JSON by :func:`save_results` (one file, or every ``*.json`` in a folder)."""
    path = Path(path)
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    names = {f.name for f in dataclasses.fields(Result)}
    out = []
    for f in files:
        for d in json.loads(f.read_text(encoding="utf-8")):
            out.append(Result(**{k: v for k, v in d.items() if k in names}))
    return out


def find_results_dir(start: str | Path | None = None, relative: str = "results/bench") -> Path | None:
    """The first ``relative`` folder found in ``start`` (default: the working directory) or above."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / relative).is_dir():
            return folder / relative
    return None


# --------------------------------------------------------------------------- timing


def time_variants(
    fns: dict[str, Callable[[], object]],
    *,
    device: torch.device | str = "cpu",
    rounds: int = 5,
    min_run_time: float = 0.2,
    warmup: int = 2,
) -> dict[str, benchmark.Measurement]:
    """Time each callable, interleaved, and return one merged Measurement per name.

    Args:
        fns: name -> a callable with no arguments (close over the inputs).
        device: where the callables compute; CUDA is synchronised by the Timer.
        rounds: each round times every variant once, in an order rotated by the
            round number, so load that comes and goes affects all of them.
        min_run_time: seconds each variant is timed per round
            (:meth:`torch.utils.benchmark.Timer.blocked_autorange`).
        warmup: untimed calls of every variant before the first round.

    Returns:
        name -> :class:`torch.utils.benchmark.Measurement` (``.median``,
        ``.iqr``, ``.times`` in seconds per call).
    """
    if not isinstance(fns, dict) or not fns:
        raise TypeError(f"`fns` must be a non-empty dict of name -> callable; got {fns!r}")
    for name, fn in fns.items():
        if not callable(fn):
            raise TypeError(f"`fns[{name!r}]` must be callable; got {type(fn).__name__}")
    _checks.positive_int(rounds, "rounds")
    _checks.positive_number(min_run_time, "min_run_time")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise TypeError(f"`warmup` must be an int >= 0; got {warmup!r}")
    device = torch.device(device)
    threads = torch.get_num_threads()
    names = list(fns)
    timers = {
        name: benchmark.Timer(stmt="fn()", globals={"fn": fns[name]}, num_threads=threads,
                              label="attnlib.bench", description=name)
        for name in names
    }
    per_name: dict[str, list[benchmark.Measurement]] = {name: [] for name in names}
    with torch.no_grad():
        for _ in range(warmup):
            for name in names:
                fns[name]()
        _sync(device)
        for r in range(rounds):
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                per_name[name].append(timers[name].blocked_autorange(min_run_time=min_run_time))
    return {name: benchmark.Measurement.merge(ms)[0] for name, ms in per_name.items()}


# --------------------------------------------------------------------------- memory


@contextlib.contextmanager
def _stderr_silenced():
    """Point file descriptor 2 at os.devnull for a moment (see the module docstring)."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no real fd 2 (some embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _cpu_peak(fn: Callable[[], object]) -> int:
    from torch.profiler import ProfilerActivity, profile

    with _stderr_silenced():
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            out = fn()
        del out
    # "[memory]" events: one per allocation (+bytes) or free (-bytes), CPU ones only.
    events = [e for e in prof.profiler.kineto_results.events()
              if e.name() == "[memory]" and str(e.device_type()).endswith("CPU")]
    events.sort(key=lambda e: e.start_ns())
    held = peak = 0
    for e in events:
        held += e.nbytes()
        peak = max(peak, held)
    return peak


def peak_memory(fn: Callable[[], object], device: torch.device | str = "cpu") -> int:
    """Extra bytes ``fn()`` holds at its peak on ``device`` (see the module docstring).

    Counted from the start of the call: inputs made before are not counted, the
    returned output is.  Runs under :func:`torch.no_grad`.

    - CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``.
    - CPU: the running sum of the allocations and frees that
      :mod:`torch.profiler` records with ``profile_memory=True``.
    """
    if not callable(fn):
        raise TypeError(f"`fn` must be callable; got {type(fn).__name__}")
    device = torch.device(device)
    with torch.no_grad():
        if device.type == "cuda":
            _sync(device)
            torch.cuda.reset_peak_memory_stats(device)
            before = torch.cuda.memory_allocated(device)
            out = fn()
            _sync(device)
            peak = torch.cuda.max_memory_allocated(device) - before
            del out
            return int(peak)
        return _cpu_peak(fn)


def memory_method(device: torch.device | str) -> str:
    """How :func:`peak_memory` measures on ``device``, in a few words (stored with results)."""
    if torch.device(device).type == "cuda":
        return "torch.cuda.max_memory_allocated after reset_peak_memory_stats"
    return "torch.profiler profile_memory: peak of the running sum of CPU allocations"


# --------------------------------------------------------------------------- FLOPs


def count_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations of the matrix products in ``fn()``, by FlopCounterMode.

    Only matmul-like operations are counted (``mm``, ``bmm``, ``addmm``,
    attention kernels...), two per multiply-add; elementwise work such as
    ``exp`` or ``tanh`` is not.
    """
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def attention_flops(B: int, H: int, L: int, S: int, E: int, Ev: int | None = None) -> int:
    """Matmul FLOPs of rule 3: ``2 L S E`` for the scores plus ``2 L S Ev`` for the sum, per head."""
    Ev = E if Ev is None else Ev
    return 2 * B * H * L * S * (E + Ev)


# --------------------------------------------------------------------------- the variants


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


# --------------------------------------------------------------------------- sweeps


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", file=sys.stderr, leave=True)


def _tick(bar, text: str = "") -> None:
    if bar is not None:
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
    with _progress(len(lengths), "lengths", progress) as bar:
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


def sdpa_backends(device: torch.device | str, *, L: int | None = None, B: int | None = None,
                  H: int | None = None, E: int | None = None, dtype: torch.dtype | None = None,
                  rounds: int = 3, min_run_time: float = 0.1) -> list[Result]:
    """Time torch's SDPA with each backend forced by :func:`torch.nn.attention.sdpa_kernel`.

    A backend the device or dtype does not support is recorded with
    ``note="not available: ..."`` and no time.
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel

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
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            results.append(make_result("backends", name, device, dtype, _qkv_shapes(q, k, v),
                                       params, note=f"not available: {first[:200]}"))
    if fns:
        ms = time_variants(fns, device=device, rounds=rounds, min_run_time=min_run_time)
        peaks = {name: peak_memory(fn, device) for name, fn in fns.items()}
        flops = {name: attention_flops(B, H, L, L, E) for name in fns}
        results = _timed_results("backends", ms, device, dtype, _qkv_shapes(q, k, v), params,
                                 flops=flops, peaks=peaks) + results
    return results


# --------------------------------------------------------------------------- the ratios


@dataclasses.dataclass
class Ratio:
    """One of the issue's checks: ``numerator / denominator`` against a bound."""

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
                 rule2: dict | None = None, progress: bool = False,
                 ) -> tuple[list[Result], list[Ratio]]:
    """The measurements behind the issue's targets, each group timed interleaved.

    1. ``B=8, H=8, L=S=1024, E=64``, float32: attnlib's rule 3 with
       ``need_weights=False`` against torch's SDPA, and with
       ``need_weights=True`` against :func:`plain_attention`.
    2. ``B=1, H=8, E=64``: :func:`~attnlib.tiled_attention` with each of
       ``block_sizes`` against the weights-returning path, peak memory at
       ``L=S=max(tiled_lengths)`` and time at each of ``tiled_lengths``.
    3. rule 2 (``rule2`` overrides ``dict(B=8, L=512, E=64, hidden=64, chunk=64)``):
       query chunks against the one-shot broadcast, time and peak memory.

    Returns the results and the ratios.
    """
    device = pick_device(device)
    dtype = torch.float32
    results: list[Result] = []
    ratios: list[Ratio] = []
    cfg2 = {"B": 8, "L": 512, "E": 64, "hidden": 64, "chunk": 64, **(rule2 or {})}
    with _progress(2 + len(tiled_lengths), "ratios", progress) as bar:
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
        _tick(bar, "rule 2")
    return results, ratios


# --------------------------------------------------------------------------- command line


def _device_tag(device: torch.device) -> str:
    """File-name prefix: ``cpu-2threads``, or ``cuda-`` and the GPU's name."""
    if device.type == "cpu":
        return f"cpu-{torch.get_num_threads()}threads"
    tag = "".join(ch if ch.isalnum() else "-" for ch in device_name(device)).strip("-").lower()
    return tag if tag.startswith("cuda") else "cuda-" + tag


def _fmt_bytes(n: int | None) -> str:
    return "-" if n is None else f"{n / 2 ** 20:.1f} MiB"


def _print_table(results: list[Result], file=sys.stdout) -> None:
    for r in results:
        t = "-" if r.median_s is None else f"{r.median_s * 1e3:9.2f} ms (IQR {r.iqr_s * 1e3:.2f})"
        rate = "" if r.flop_per_s is None else f"  {r.flop_per_s / 1e9:7.1f} GFLOP/s"
        params = " ".join(f"{k}={v}" for k, v in r.params.items())
        print(f"  {r.variant:<42} {params:<40} {t:>28}  peak {_fmt_bytes(r.peak_bytes):>11}"
              f"{rate} {r.note}", file=file)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m attnlib.bench",
        description="Run the performance chapter's sweeps on one device, save CSV and JSON "
                    "files and print the issue's ratios.")
    parser.add_argument("--out", default="bench-results",
                        help="folder for <device>_<sweep>.csv/.json and <device>_ratios.txt, "
                             "<device> being e.g. cpu-2threads (default: bench-results)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu or cuda")
    parser.add_argument("--sweeps", nargs="+", default=["ratios", "lengths", "ceiling", "backends"],
                        choices=["ratios", "lengths", "ceiling", "backends"],
                        help="which sweeps to run (default: all four)")
    parser.add_argument("--rounds", type=int, default=7,
                        help="interleaved rounds per comparison (default: 7)")
    parser.add_argument("--min-run-time", type=float, default=0.3,
                        help="seconds each variant is timed per round (default: 0.3)")
    parser.add_argument("--lengths", type=int, nargs="+", default=None,
                        help="L = S values for the lengths sweep (default: by device)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch.set_num_threads before measuring (default: leave as is)")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    args = parser.parse_args(argv)

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    out = Path(args.out)
    env = environment(device)
    tag = _device_tag(device)
    show = not args.no_progress
    print(f"device {env['device']} ({env['device_name']}), torch {env['torch_version']}, "
          f"{env['threads']} threads of {env['cpu_count']} CPUs, load average {env['load_avg']}")
    if device.type == "cpu":
        print("No CUDA device in use: every number below was measured on the CPU.")
    started = time.perf_counter()
    started_at = time.strftime("%Y-%m-%d %H:%M %Z")
    written = []
    ratios: list[Ratio] = []
    for sweep in args.sweeps:
        if sweep == "ratios":
            results, ratios = ratio_checks(device, rounds=args.rounds,
                                           min_run_time=args.min_run_time, progress=show)
        elif sweep == "lengths":
            results = sweep_lengths(device, lengths=args.lengths, rounds=max(1, args.rounds // 2),
                                    min_run_time=args.min_run_time / 2, progress=show)
        elif sweep == "ceiling":
            results = [matmul_ceiling(device, rounds=args.rounds, min_run_time=args.min_run_time)]
        else:
            results = sdpa_backends(device, rounds=args.rounds, min_run_time=args.min_run_time)
        print(f"\n{sweep}:")
        _print_table(results)
        for suffix in ("csv", "json"):
            written.append(save_results(results, out / f"{tag}_{sweep}.{suffix}"))
    end_load = environment(device)["load_avg"]
    if ratios:
        command = "python -m attnlib.bench " + " ".join(
            sys.argv[1:] if argv is None else list(argv))
        lines = [
            f"command: {command.strip()}",
            f"device {env['device']} ({env['device_name']}), torch {env['torch_version']}, "
            f"{env['threads']} threads of {env['cpu_count']} CPUs, float32, "
            f"interleaved rounds={args.rounds}, min_run_time={args.min_run_time} s",
            f"load average (1, 5, 15 min) at the start {env['load_avg']}, at the end {end_load}",
            f"measured from {started_at} for {time.perf_counter() - started:.0f} s",
        ]
        lines += ["  " + ratio.line() for ratio in ratios]
        print("\nThe issue's ratios:\n" + "\n".join(lines))
        path = out / f"{tag}_ratios.txt"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(path)
    print(f"\nload average at the end: {end_load}; {time.perf_counter() - started:.0f} s in all")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0 if all(r.holds for r in ratios) else 1


if __name__ == "__main__":
    sys.exit(main())
