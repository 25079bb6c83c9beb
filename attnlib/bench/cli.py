"""The command line, ``python -m attnlib.bench``: run the sweeps, save the files, print the ratios."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import torch

from .measure import device_name, environment, pick_device
from .chapters import groups
from .ratios import Ratio, ratio_checks
from .results import Result, save_results
from .sweeps import matmul_ceiling, sdpa_backends, sweep_lengths

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


_EPILOG = """\
exit status:
  0  every sweep ran and every ratio check held (or no ratio sweep was asked for)
  1  the sweeps ran but at least one ratio check missed its bound (marked MISS)
  2  bad arguments (argparse's usual status); nothing was measured
"""


def _positive(kind, what: str):
    """An argparse type: ``kind(text)`` that must be > 0."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}") from None
        if not value > 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected {what}; got {text!r}")
        return value
    parse.__name__ = what  # argparse names the type in its messages
    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m attnlib.bench", epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the performance chapter's sweeps on one device, save CSV and JSON "
                    "files and print the ratio checks (each ratio of two variants measured "
                    "in one interleaved run, against its bound).")
    parser.add_argument("--out", default="bench-results",
                        help="folder for <device>_<sweep>.csv/.json and <device>_ratios.txt, "
                             "<device> being e.g. cpu-2threads (default: bench-results)")
    parser.add_argument("--device", default="auto",
                        help="auto (CUDA if present, else the CPU), cpu, cuda or cuda:N")
    sweeps = ["ratios", "lengths", "ceiling", "backends", *groups()]
    parser.add_argument("--sweeps", nargs="+", default=sweeps, choices=sweeps,
                        help="which sweeps to run (default: all; the names after 'backends' "
                             "are the later chapters' ratio groups)")
    parser.add_argument("--rounds", type=_positive(int, "a positive int"), default=7,
                        help="interleaved rounds per comparison (default: 7)")
    parser.add_argument("--min-run-time", type=_positive(float, "a positive number of seconds"),
                        default=0.3, help="seconds each variant is timed per round (default: 0.3)")
    parser.add_argument("--lengths", type=_positive(int, "a positive int"), nargs="+",
                        default=None, help="L = S values for the lengths sweep (default: by device)")
    parser.add_argument("--threads", type=_positive(int, "a positive int"), default=None,
                        help="torch.set_num_threads before measuring (default: leave as is)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (see ``--help``)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        device = pick_device(args.device)
    except (ValueError, RuntimeError) as err:
        parser.error(f"argument --device: {err}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        parser.error(f"argument --out: {str(out)!r} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        parser.error(f"argument --out: cannot create {str(out)!r}: {err.strerror}")

    if args.threads is not None:
        torch.set_num_threads(args.threads)
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
    ratios: dict[str, list[Ratio]] = {}  # sweep -> its ratio checks
    for sweep in args.sweeps:
        if sweep == "ratios":
            results, ratios[sweep] = ratio_checks(device, rounds=args.rounds,
                                                  min_run_time=args.min_run_time, progress=show)
        elif sweep == "lengths":
            results = sweep_lengths(device, lengths=args.lengths, rounds=max(1, args.rounds // 2),
                                    min_run_time=args.min_run_time / 2, progress=show)
        elif sweep == "ceiling":
            results = [matmul_ceiling(device, rounds=args.rounds, min_run_time=args.min_run_time)]
        elif sweep == "backends":
            results = sdpa_backends(device, rounds=args.rounds, min_run_time=args.min_run_time)
        else:
            results, ratios[sweep] = groups()[sweep](device, rounds=args.rounds,
                                                     min_run_time=args.min_run_time,
                                                     progress=show)
        print(f"\n{sweep}:")
        _print_table(results)
        for suffix in ("csv", "json"):
            written.append(save_results(results, out / f"{tag}_{sweep}.{suffix}"))
    end_load = environment(device)["load_avg"]
    for sweep, checks in ratios.items():
        if not checks:  # a group with nothing to check on this device (kernels on a CPU)
            continue
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
        lines += ["  " + ratio.line() for ratio in checks]
        print(f"\nRatio checks ({sweep}):\n" + "\n".join(lines))
        # the performance chapter's checks in <tag>_ratios.txt, each later group's apart
        path = out / (f"{tag}_ratios.txt" if sweep == "ratios" else f"{tag}_{sweep}_ratios.txt")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        written.append(path)
    print(f"\nload average at the end: {end_load}; {time.perf_counter() - started:.0f} s in all")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0 if all(r.holds for checks in ratios.values() for r in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
