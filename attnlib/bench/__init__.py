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
    (the ratio checks, time and memory against sequence length, the matmul
    ceiling, and the SDPA backends) on the picked device, writes
    ``<device>_<sweep>.csv`` and ``.json`` files into ``--out``, and prints
    the ratios.  ``python -m attnlib.bench --help`` lists the options and the
    exit status (1 when a ratio misses its bound).

Inside:

- :mod:`.measure` -- devices (:func:`pick_device`, :func:`default_sizes`),
  :func:`time_variants`, :func:`peak_memory`, :func:`count_flops`
- :mod:`.results` -- :class:`Result`, :func:`save_results`, :func:`load_results`
- :mod:`.sweeps` -- the variants compared and the sweeps (:func:`sweep_lengths`,
  :func:`matmul_ceiling`, :func:`sdpa_backends`)
- :mod:`.ratios` -- :class:`Ratio` and :func:`ratio_checks`
- :mod:`.chapters` -- the later chapters' ratio groups: :func:`register`, :func:`groups`
- :mod:`.kernels` -- chapter 12: :func:`kernel_sweep`, the Triton kernel against SDPA's
  fused backends; ratio group ``kernels``: its causal forward against its full one
- :mod:`.decode` -- chapter 10's ratio group ``decode``: :func:`decode_step` against the
  context length, for full, window, linear and latent attention
- :mod:`.flex` -- chapter 11's ratio group ``flex``: compiled FlexAttention with a
  sliding-window block mask against SDPA with the same dense mask
- :mod:`.cli` -- :func:`main`, the command line

Shape legend: ``B`` batch, ``H`` heads, ``L`` query length, ``S`` key/value
length, ``E`` query/key feature size, ``Ev`` value feature size.
"""

from .cli import main
from .measure import (attention_flops, count_flops, default_sizes, device_name, environment,
                      memory_method, peak_memory, pick_device, time_variants)
from .kernels import kernel_flops, kernel_sweep
from .ratios import Ratio, ratio_checks
from .results import Result, find_results_dir, load_results, make_result, save_results
from .sweeps import (make_qkv, matmul_ceiling, plain_attention, rule2_module, rule3_variants,
                     sdpa_backends, sweep_lengths)

__all__ = ["Ratio", "Result", "attention_flops", "count_flops", "default_sizes", "device_name",
           "environment", "find_results_dir", "kernel_flops", "kernel_sweep", "load_results",
           "main", "make_qkv",
           "make_result", "matmul_ceiling", "memory_method", "peak_memory", "pick_device",
           "plain_attention", "ratio_checks", "rule2_module", "rule3_variants", "save_results",
           "sdpa_backends", "sweep_lengths", "time_variants"]
