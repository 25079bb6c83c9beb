"""Measuring one device: which device, time per call, peak memory and FLOPs.

See :mod:`attnlib.bench` for how time (interleaved rounds of
:class:`torch.utils.benchmark.Timer`) and peak memory (CUDA's peak counter, or
the running sum of :mod:`torch.profiler`'s memory events on a CPU) are measured.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
from typing import Callable

import torch
from torch.utils import benchmark

from .. import _checks


def pick_device(name: str | torch.device | None = None) -> torch.device:
    """The device to measure on: ``name`` if given, else CUDA when present, else the CPU.

    ``name`` may be ``"auto"`` (the same as ``None``), ``"cpu"``, ``"cuda"``
    or ``"cuda:1"``; asking for CUDA where there is none raises ``ValueError``.
    """
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ValueError(f"`device` must be 'cpu', 'cuda', 'cuda:N' or 'auto'; got {name!r}") from None
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
    # start_ns() is recent; older releases have only start_us()
    events.sort(key=lambda e: e.start_ns() if hasattr(e, "start_ns") else e.start_us() * 1000)
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

    Only the operations that ``torch.utils.flop_counter`` has a formula for
    are counted, two FLOPs per multiply-add: ``mm``, ``bmm``, ``addmm``,
    convolutions, and the CUDA attention kernels (flash, memory-efficient,
    cuDNN).  Elementwise work such as ``exp`` or ``tanh`` is not counted.

    Fused kernels without a formula count 0.  On the CPU,
    ``torch.nn.functional.scaled_dot_product_attention`` with ``E == Ev`` runs
    ``aten._scaled_dot_product_flash_attention_for_cpu``, which the counter
    does not see (torch 2.13): the call counts 0.  With ``E != Ev`` the CPU
    falls back to its math path, two ``bmm``, and the count is rule 3's
    ``2 L S (E + Ev)`` per head (:func:`attention_flops`).  Attention written
    out with ``@`` or ``bmm`` (``attnlib.tiled_attention``, ``need_weights=True``)
    is always counted.
    """
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def attention_flops(B: int, H: int, L: int, S: int, E: int, Ev: int | None = None) -> int:
    """Matmul FLOPs of rule 3: ``2 L S E`` for the scores plus ``2 L S Ev`` for the sum, per head."""
    Ev = E if Ev is None else Ev
    return 2 * B * H * L * S * (E + Ev)
