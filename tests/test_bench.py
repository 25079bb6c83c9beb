"""attnlib.bench: the measuring utilities (fast; nothing here asserts a timing)."""

import csv
import json

import pytest
import torch
import torch.nn.functional as F
from torch.utils import benchmark

import attnlib
from attnlib import bench


def test_pick_device():
    assert bench.pick_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert bench.pick_device().type == expected
    assert bench.pick_device("auto").type == expected
    with pytest.raises(ValueError, match="`device` must be 'cpu', 'cuda' or 'auto'"):
        bench.pick_device("meta")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_pick_device_refuses_missing_cuda():
    with pytest.raises(ValueError, match="torch.cuda.is_available\\(\\) is False"):
        bench.pick_device("cuda")


def test_environment_and_sizes(device):
    env = bench.environment(device)
    assert env["device"] == str(device) and env["device_name"]
    assert env["torch_version"] == torch.__version__
    assert env["threads"] == torch.get_num_threads()
    sizes = bench.default_sizes(device)
    assert {"dtype", "B", "H", "E", "lengths", "rule2_lengths", "block_size",
            "query_chunk_size", "matmul_n"} <= set(sizes)
    assert sizes["lengths"] == sorted(sizes["lengths"])
    assert set(sizes["rule2_lengths"]) <= set(sizes["lengths"])


def test_time_variants_interleaves_and_merges():
    calls = []
    fns = {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}
    ms = bench.time_variants(fns, rounds=3, min_run_time=0.001, warmup=1)
    assert set(ms) == {"a", "b"}
    for m in ms.values():
        assert isinstance(m, benchmark.Measurement)
        assert m.median > 0 and m.iqr >= 0 and len(m.times) >= 3
    assert calls[:2] == ["a", "b"]  # the warm-up calls
    assert calls.count("a") > 3 and calls.count("b") > 3


@pytest.mark.parametrize("kwargs, exc, words", [
    (dict(fns={}), TypeError, "`fns` must be a non-empty dict"),
    (dict(fns={"x": 3}), TypeError, "`fns\\['x'\\]` must be callable"),
    (dict(fns={"x": lambda: None}, rounds=0), ValueError, "`rounds`"),
    (dict(fns={"x": lambda: None}, min_run_time=0), ValueError, "`min_run_time`"),
    (dict(fns={"x": lambda: None}, warmup=-1), TypeError, "`warmup`"),
])
def test_time_variants_bad_arguments(kwargs, exc, words):
    with pytest.raises(exc, match=words):
        bench.time_variants(**kwargs)


def test_peak_memory_counts_what_the_call_allocates(capfd):
    before = torch.ones(1000, 1000)  # made before the call: not counted
    assert bench.peak_memory(lambda: before.clone()) == 4_000_000
    # a temporary of 4 MB and the 4 MB result are alive together at the peak
    assert bench.peak_memory(lambda: torch.exp(before.neg())) == 8_000_000
    # (Python numbers become small scalar tensors: a few bytes more)
    assert 4_000_000 <= bench.peak_memory(lambda: before + 1) <= 4_000_064
    assert bench.peak_memory(lambda: None) == 0
    assert "USDT" not in capfd.readouterr().err  # the profiler's banner is silenced


def test_peak_memory_on_every_device(device):
    x = torch.ones(256, 256, device=device)
    assert bench.peak_memory(lambda: x * 2, device) >= 256 * 256 * 4
    assert bench.memory_method(device)


def test_peak_memory_bad_argument():
    with pytest.raises(TypeError, match="`fn` must be callable"):
        bench.peak_memory(42)


def test_flop_counts_agree_with_the_formula():
    q, k, v = bench.make_qkv(2, 3, 5, 7, 4, 6)
    assert q.shape == (2, 3, 5, 4) and v.shape == (2, 3, 7, 6)
    expected = bench.attention_flops(2, 3, 5, 7, 4, 6)
    assert expected == 2 * 2 * 3 * 5 * 7 * (4 + 6)
    assert bench.count_flops(lambda: bench.plain_attention(q, k, v)) == expected
    # tiled_attention's second product has a column of ones more: Ev + 1
    tiled = bench.count_flops(lambda: attnlib.tiled_attention(q, k, v, block_size=3))
    assert tiled == 2 * 2 * 3 * 5 * 7 * (4 + 6 + 1)
    a, b = torch.ones(8, 16), torch.ones(16, 4)
    assert bench.count_flops(lambda: a @ b) == 2 * 8 * 16 * 4


def test_count_flops_sees_sdpas_math_path_and_not_the_cpu_fused_kernel(device):
    B, H, L, S, E = 2, 3, 5, 7, 4

    def sdpa_flops(Ev):
        q, k, v = (t.to(device) for t in bench.make_qkv(B, H, L, S, E, Ev))
        return bench.count_flops(lambda: F.scaled_dot_product_attention(q, k, v))

    # rule 3's products, 2 FLOPs per multiply-add: (L x E)(E x S) and (L x S)(S x Ev)
    def rule3(Ev):
        return B * H * (2 * L * E * S + 2 * L * S * Ev)

    # E != Ev: no fused kernel takes it on the CPU; the math path's two bmm are counted
    assert sdpa_flops(Ev=6) == rule3(6)
    if device.type == "cpu":
        # E == Ev: the CPU's fused kernel, which FlopCounterMode has no formula for
        assert sdpa_flops(Ev=E) == 0
    else:  # CUDA's fused kernels (flash, memory-efficient, cuDNN) have formulas
        assert sdpa_flops(Ev=E) == rule3(E)
    # written out, the same attention is counted in full on every device
    q, k, v = (t.to(device) for t in bench.make_qkv(B, H, L, S, E))
    assert bench.count_flops(lambda: bench.plain_attention(q, k, v)) == rule3(E)


def test_plain_attention_is_rule_3():
    q, k, v = bench.make_qkv(2, 3, 5, 7, 4, seed=1)
    out, w = bench.plain_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))
    assert w.shape == (2, 3, 5, 7)


def test_make_qkv_is_seeded():
    a = bench.make_qkv(1, 2, 3, 4, 5, seed=7)
    b = bench.make_qkv(1, 2, 3, 4, 5, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert bench.make_qkv(1, 1, 2, 2, 2, dtype=torch.float64)[0].dtype == torch.float64


def test_results_carry_the_environment_and_round_trip(tmp_path):
    r = bench.make_result("demo", "v", "cpu", torch.float32, {"query": (1, 2, 3)},
                          {"L": 3}, median_s=0.5, iqr_s=0.1, runs=4, flops=10, peak_bytes=64)
    assert r.device == "cpu" and r.device_name and r.torch_version == torch.__version__
    assert r.threads == torch.get_num_threads() and r.dtype == "float32"
    assert r.shapes == "query (1, 2, 3)" and r.flop_per_s == 20
    bench.save_results([r, r], tmp_path / "x.json")
    bench.save_results([r], tmp_path / "x.csv")
    assert bench.load_results(tmp_path / "x.json") == [r, r]
    assert bench.load_results(tmp_path) == [r, r]  # every *.json of a folder
    rows = list(csv.DictReader((tmp_path / "x.csv").open()))
    assert rows[0]["variant"] == "v" and rows[0]["param_L"] == "3"
    assert rows[0]["device_name"] == r.device_name and rows[0]["threads"] == str(r.threads)
    assert json.loads((tmp_path / "x.json").read_text())[0]["params"] == {"L": 3}
    with pytest.raises(ValueError, match="`path` must end in .json or .csv"):
        bench.save_results([r], tmp_path / "x.txt")


def test_find_results_dir(tmp_path):
    (tmp_path / "results" / "bench").mkdir(parents=True)
    (tmp_path / "notebooks").mkdir()
    assert bench.find_results_dir(tmp_path / "notebooks") == tmp_path / "results" / "bench"
    assert bench.find_results_dir(tmp_path / "notebooks", relative="nowhere/at/all") is None


def test_ratio_line():
    ok = bench.Ratio("demo", "a", "b", 1.05, 1.1)
    miss = bench.Ratio("demo", "a", "b", 1.3, 1.25, unit="peak extra memory")
    assert ok.holds and not miss.holds
    assert ok.line().startswith("[ok  ] demo: a / b = 1.050")
    assert "MISS" in miss.line() and "peak extra memory" in miss.line()


def test_small_sweeps_run():
    res = bench.sweep_lengths("cpu", lengths=[32, 64], rule2_lengths=[32], B=1, H=2, E=8,
                              block_size=16, query_chunk_size=8, rounds=1, min_run_time=0.001)
    variants = {r.variant for r in res}
    assert "torch SDPA" in variants and "rule 2 chunked (8)" in variants
    assert len([r for r in res if r.params["L"] == 64]) == 3  # no rule 2 at L = 64
    assert all(r.median_s > 0 and r.peak_bytes is not None and r.flops for r in res)
    ceiling = bench.matmul_ceiling("cpu", n=64, rounds=1, min_run_time=0.001)
    assert ceiling.flops == 2 * 64 ** 3 and ceiling.flop_per_s > 0


def test_sdpa_backends_on_the_cpu_say_cleanly_why_not():
    backends = bench.sdpa_backends("cpu", L=32, B=1, H=2, E=8, rounds=1, min_run_time=0.001)
    by_name = {r.variant: r for r in backends}
    assert by_name["MATH"].median_s > 0
    assert all(r.median_s is not None or r.note.startswith("not available") for r in backends)
    cuda_only = bench.sweeps.CUDA_ONLY_BACKENDS & set(by_name)
    assert cuda_only  # EFFICIENT_ATTENTION exists in every torch that has sdpa_kernel
    for name in cuda_only:
        assert by_name[name].median_s is None
        assert by_name[name].note == "not available on cpu (a CUDA-only backend)"
    for r in backends:
        assert "No viable backend" not in r.note and "math kernel" not in r.note
        assert len(f"{r.variant}: {r.note}") <= 80  # how the chapter prints it


def test_sdpa_backend_notes_keep_torchs_reason_on_cuda_only():
    # The note's wording alone: no GPU and no timing needed.
    unavailable = bench.sweeps._unavailable
    err = RuntimeError("No available kernel. Aborting execution.\nmore detail")
    assert (unavailable("FLASH_ATTENTION", torch.device("cuda"), torch.float16, err)
            == "not available: No available kernel. Aborting execution.")
    viable = RuntimeError("No viable backend for scaled_dot_product_attention was found.")
    assert (unavailable("CUDNN_ATTENTION", torch.device("cpu"), torch.float32, viable)
            == "not available on cpu (a CUDA-only backend)")
    assert (unavailable("FLASH_ATTENTION", torch.device("cpu"), torch.float16, viable)
            == "not available on cpu for float16 inputs")


def test_command_line_writes_files(tmp_path, capsys):
    code = bench.main(["--out", str(tmp_path), "--device", "cpu", "--sweeps", "ceiling",
                       "--rounds", "1", "--min-run-time", "0.001", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "measured on the CPU" in printed and torch.__version__ in printed
    tag = f"cpu-{torch.get_num_threads()}threads"
    assert (tmp_path / f"{tag}_ceiling.csv").exists()
    saved = bench.load_results(tmp_path / f"{tag}_ceiling.json")
    assert saved[0].sweep == "ceiling" and saved[0].device == "cpu"


@pytest.mark.parametrize("args,message", [
    (["--rounds", "0"], "argument --rounds: expected a positive int; got '0'"),
    (["--min-run-time", "-1"], "argument --min-run-time: expected a positive number"),
    (["--min-run-time", "nan"], "argument --min-run-time: expected a positive number"),
    (["--lengths", "64", "0"], "argument --lengths: expected a positive int; got '0'"),
    (["--threads", "x"], "argument --threads: expected a positive int; got 'x'"),
    (["--device", "tpu"], "argument --device: `device` must be 'cpu', 'cuda', 'cuda:N' or"),
    (["--sweeps", "speed"], "argument --sweeps: invalid choice: 'speed'"),
])
def test_command_line_argument_errors_are_one_argparse_line(args, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("python -m attnlib.bench: error:")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message for a missing GPU")
def test_command_line_cuda_without_a_gpu_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--device", "cuda"])
    assert exit_.value.code == 2
    assert "torch.cuda.is_available() is False" in capsys.readouterr().err


def test_command_line_checks_out_before_measuring(tmp_path, capsys, monkeypatch):
    measured = []
    monkeypatch.setattr(bench.cli, "matmul_ceiling", lambda *a, **k: measured.append(1))
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a folder")
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--out", str(a_file), "--device", "cpu", "--sweeps", "ceiling"])
    assert exit_.value.code == 2 and not measured
    assert "is not a folder" in capsys.readouterr().err


def test_help_documents_the_exit_status(capsys):
    with pytest.raises(SystemExit) as exit_:
        bench.main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "exit status:" in text and "missed its bound" in text
    assert "issue" not in text.lower()


@pytest.fixture(scope="module")
def tiny_ratio_run():
    """One :func:`ratio_checks` run with tiny sizes on 2 threads, and the threads after it.

    Tiny sizes, so the tests check what is compared and how, not the speed.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        results, ratios = bench.ratio_checks("cpu", rounds=1, min_run_time=0.001,
                                             tiled_lengths=(32,), block_sizes=(16,),
                                             rule2=dict(B=1, L=16, E=8, hidden=8, chunk=4),
                                             causal=dict(B=1, H=2, L=32, E=8),
                                             kv_cache=dict(prompt=4, new=8, d_model=16,
                                                           nhead=2, num_layers=1, vocab=8))
        after = torch.get_num_threads()
    finally:
        torch.set_num_threads(before)
    return results, ratios, after


def test_ratio_checks_cover_the_causal_fast_path(tiny_ratio_run):
    results, ratios, _ = tiny_ratio_run
    causal = [r for r in ratios if r.what.startswith("causal")]
    assert len(causal) == 1
    assert causal[0].numerator == "attnlib is_causal=True need_weights=False"
    assert causal[0].denominator == "torch SDPA is_causal=True" and causal[0].bound == 1.1
    timed = {r.variant: r.median_s for r in results if r.params.get("is_causal")}
    assert causal[0].value == pytest.approx(timed[causal[0].numerator]
                                            / timed[causal[0].denominator])
    cache = [r for r in ratios if r.what.startswith("KV cache")]
    assert len(cache) == 1 and cache[0].bound == 0.25
    assert cache[0].numerator == "generate use_cache=True"


def test_kv_cache_check_records_the_one_thread_it_ran_on(tiny_ratio_run, tmp_path):
    # The run is on 2 threads; the KV-cache check alone sets 1, and its rows say so.
    results, ratios, after = tiny_ratio_run
    assert after == 2  # the thread count is restored after the check
    cache_rows = [r for r in results if r.variant.startswith("generate use_cache=")]
    assert {r.variant for r in cache_rows} == {"generate use_cache=True",
                                               "generate use_cache=False"}
    assert all(r.threads == 1 for r in cache_rows)
    assert all(r.threads == 2 for r in results if r not in cache_rows)
    (cache,) = [r for r in ratios if r.what.startswith("KV cache")]
    assert cache.what.endswith(", 1 thread") and ", 1 thread:" in cache.line()
    # and so do the saved rows (the CSV and JSON files the command line writes)
    bench.save_results(results, tmp_path / "r.csv")
    bench.save_results(results, tmp_path / "r.json")
    rows = {row["variant"]: row for row in csv.DictReader((tmp_path / "r.csv").open())}
    assert rows["generate use_cache=True"]["threads"] == "1"
    assert rows["torch SDPA is_causal=True"]["threads"] == "2"
    saved = {r.variant: r.threads for r in bench.load_results(tmp_path / "r.json")}
    assert saved["generate use_cache=False"] == 1 and saved["torch SDPA"] == 2
