"""attnlib.flash_attention: the Triton kernels equal PyTorch's SDPA, values and gradients.

Without a GPU the kernels run through Triton's interpreter (tests/conftest.py sets
TRITON_INTERPRET=1 before triton is imported); on a GPU the same tests run compiled.
The sizes are small and not multiples of the blocks, so every case has ragged edges,
and the interpreter runs each in about a second.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import attnlib
from attnlib import bench, flash

ROOT = Path(__file__).resolve().parents[1]
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def test_the_kernels_run_here():
    # conftest chose the interpreter before triton was imported; if something imported
    # triton first, the interpreter cannot be chosen any more and every test below fails.
    if DEVICE.type == "cpu":
        assert os.environ.get("TRITON_INTERPRET") == "1"
        assert flash._interpreted(flash._load_kernels())


def inputs(B, H, L, S, E, Ev, seed, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, H, n, f, generator=g, dtype=dtype).to(DEVICE).requires_grad_()
            for n, f in ((L, E), (S, E), (S, Ev))]


def values_and_grads(fn, q, k, v, seed):
    out = fn(q, k, v)
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed)).to(out)
    return (out, *torch.autograd.grad(out, (q, k, v), grad))


def compare(B, H, L, S, E, Ev, causal, blocks, scale=None, seed=0, tol=1e-5):
    q, k, v = inputs(B, H, L, S, E, Ev, seed)
    got = values_and_grads(lambda *a: attnlib.flash_attention(
        *a, is_causal=causal, scale=scale, block_m=blocks[0], block_n=blocks[1]), q, k, v, seed)
    want = values_and_grads(lambda *a: F.scaled_dot_product_attention(
        *a, is_causal=causal, scale=scale), q, k, v, seed)
    for name, a, b in zip(("output", "dQ", "dK", "dV"), got, want):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol, msg=lambda m: f"{name}: {m}")


# (B, H, L, S): no length is a multiple of the 16- or 32-row blocks
@pytest.mark.parametrize("E", [16, 32, 64])
@pytest.mark.parametrize("causal", [False, True], ids=["full", "causal"])
def test_equals_sdpa_values_and_gradients(E, causal):
    compare(1, 2, 37, 45, E, E, causal, blocks=(16, 32), seed=E)


@pytest.mark.parametrize("L, S", [(45, 21), (21, 45)])
def test_causal_with_more_queries_or_more_keys(L, S):
    # top-left aligned, as in PyTorch: query i sees keys 0..i even when L != S
    compare(1, 2, L, S, 16, 16, True, blocks=(16, 16), seed=L)


def test_causal_programs_never_load_the_blocks_above_the_diagonal():
    # L = 32 queries in blocks of 16 see keys 0..31 only; keys 32..63 are NaN. A kernel that
    # loaded them (even to mask them) would multiply a NaN value by a zero weight: NaN.
    q, k, v = inputs(1, 2, 32, 64, 16, 16, seed=11)
    with torch.no_grad():
        k[:, :, 32:] = float("nan")
        v[:, :, 32:] = float("nan")
    out = attnlib.flash_attention(q, k, v, is_causal=True, block_m=16, block_n=16)
    seen = F.scaled_dot_product_attention(q, k[:, :, :32], v[:, :, :32], is_causal=True)
    torch.testing.assert_close(out, seen, rtol=1e-5, atol=1e-5)
    dq, dk, dv = torch.autograd.grad(out, (q, k, v), torch.ones_like(out))
    assert torch.isfinite(dq).all()
    assert (dk[:, :, 32:] == 0).all() and (dv[:, :, 32:] == 0).all()


def test_other_feature_sizes_scale_and_default_blocks():
    # E and Ev not powers of two (the feature columns are masked too), a scale of one's own,
    # the default 64 x 64 blocks, larger than L and S, and B, H > 1 (program_id(1) = b * H + h)
    compare(2, 3, 29, 50, 24, 40, False, blocks=(64, 64), scale=0.3, seed=3)


def test_strided_inputs_and_the_callers_tensors_unchanged():
    g = torch.Generator().manual_seed(5)
    # (B, L, H, E) seen as (B, H, L, E): rows are not contiguous
    q, k, v = (torch.randn(2, n, 3, 16, generator=g).to(DEVICE).transpose(1, 2)
               for n in (19, 23, 23))
    before = [t.clone() for t in (q, k, v)]
    out = attnlib.flash_attention(q, k, v, block_m=16, block_n=16)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v),
                               rtol=1e-5, atol=1e-5)
    for t, b in zip((q, k, v), before):
        assert torch.equal(t, b)


def test_half_precision_keeps_float32_state():
    q, k, v = inputs(1, 1, 33, 40, 16, 16, seed=7, dtype=torch.float16)
    out = attnlib.flash_attention(q, k, v, is_causal=True, block_m=16, block_n=16)
    assert out.dtype == torch.float16
    ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=True)
    torch.testing.assert_close(out.float(), ref, rtol=0, atol=2e-3)


def test_empty_sizes_as_in_pytorch():
    for L, S in ((0, 5), (4, 0)):
        q, k, v = inputs(1, 2, L, S, 16, 16, seed=8)
        got = values_and_grads(attnlib.flash_attention, q, k, v, seed=8)
        want = values_and_grads(F.scaled_dot_product_attention, q, k, v, seed=8)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b)


def test_the_log_sum_exp_it_saves():
    # the backward's only record of the weights: lse_i = log sum_j exp(s_ij)
    q, k, v = inputs(1, 2, 21, 30, 16, 16, seed=9)
    out = attnlib.flash_attention(q, k, v, block_m=16, block_n=16)
    lse = out.grad_fn.saved_tensors[4]
    scores = q @ k.transpose(-2, -1) / 4.0  # scale 1 / sqrt(16)
    torch.testing.assert_close(lse, torch.logsumexp(scores, dim=-1).detach())


# errors -------------------------------------------------------------------------------

def qkv(L=5, S=6, E=16, Ev=16, dtype=torch.float32):
    return (torch.randn(1, 2, L, E, dtype=dtype), torch.randn(1, 2, S, E, dtype=dtype),
            torch.randn(1, 2, S, Ev, dtype=dtype))


@pytest.mark.parametrize("change, error, words", [
    (lambda q, k, v: (q[0], k[0], v[0]), ValueError, "`query` must be 4-D with shape (B, H, L, E)"),
    (lambda q, k, v: (q, k[..., :8], v), ValueError, "`key` must have the same last dim E"),
    (lambda q, k, v: (q, k, v[:, :, :3]), ValueError, "`value` must have the same length S"),
    (lambda q, k, v: (q, k[:, :1], v[:, :1]), ValueError, "same batch dims"),
    (lambda q, k, v: (q.double(), k.double(), v.double()), TypeError,
     "must be float32, float16 or bfloat16 for the Triton kernels; got dtype torch.float64"),
    (lambda q, k, v: (q.int(), k.int(), v.int()), TypeError, "must be a floating-point"),
    (lambda q, k, v: (q, k.half(), v), TypeError, "same dtype"),
    (lambda q, k, v: (q.numpy(), k, v), TypeError, "must be a torch.Tensor"),
])
def test_bad_input_is_named(change, error, words):
    with pytest.raises(error) as info:
        attnlib.flash_attention(*change(*qkv()))
    assert words in str(info.value)


def test_bad_options_are_named():
    q, k, v = qkv()
    for kwargs, error, words in [
        (dict(block_m=24), ValueError, "`block_m` must be a power of two, at least 16; got 24"),
        (dict(block_n=8), ValueError, "`block_n` must be a power of two, at least 16; got 8"),
        (dict(is_causal=1), TypeError, "`is_causal` must be True or False"),
        (dict(scale=-1.0), ValueError, "`scale` must be a positive"),
    ]:
        with pytest.raises(error) as info:
            attnlib.flash_attention(q, k, v, **kwargs)
        assert words in str(info.value)
    with pytest.raises(ValueError, match="at most 256"):
        attnlib.flash_attention(*qkv(E=300))


def test_cpu_tensors_without_the_interpreter_are_refused(monkeypatch):
    monkeypatch.setattr(flash, "_interpreted", lambda kernels: False)
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        attnlib.flash_attention(*qkv())


def test_import_attnlib_never_needs_triton():
    # A fresh interpreter: importing attnlib imports no triton, and with triton missing
    # (sys.modules["triton"] = None blocks the import) the kernel says which extra to install.
    code = (
        "import sys\n"
        "import attnlib\n"
        "assert 'triton' not in sys.modules, 'import attnlib imported triton'\n"
        "sys.modules['triton'] = None\n"
        "import torch\n"
        "q = torch.randn(1, 1, 4, 16)\n"
        "try:\n"
        "    attnlib.flash_attention(q, q, q)\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert 'pip install "attnlib[kernels]"' in done.stdout, done.stdout


# the chapter's timing sweep ------------------------------------------------------------

def test_kernel_flops():
    # forward: QK^T and PV, 2 L S E each; the backward does five such products
    assert bench.kernel_flops(2, 3, 5, 7, 16) == 2 * 3 * 2 * (2 * 5 * 7 * 16)
    assert bench.kernel_flops(1, 1, 8, 8, 4, backward=True) == 7 * 2 * 8 * 8 * 4
    assert bench.kernel_flops(1, 1, 8, 8, 4, is_causal=True) == 4 * 8 * 8 * 4 // 2


def test_kernel_sweep_times_every_variant_it_can():
    # tiny sizes: on a CPU this runs the interpreter, to check the code, not the speed
    results = bench.kernel_sweep(DEVICE, lengths=[20], B=1, H=1, E=16, dtype=torch.float32,
                                 rounds=1, min_run_time=1e-3)
    by = {r.variant: r for r in results}
    for mode in ("forward", "forward+backward"):
        kernel = by[f"{bench.kernels.KERNEL}, {mode}"]
        assert kernel.median_s > 0 and kernel.flops == bench.kernel_flops(
            1, 1, 20, 20, 16, backward=mode != "forward")
        for name in bench.kernels.BACKENDS:
            r = by[f"SDPA {name}, {mode}"]
            assert (r.median_s is not None) != r.note.startswith("not available"), r
    assert len(results) == 2 * (1 + len(bench.kernels.BACKENDS))


def test_the_ratio_group_says_why_it_cannot_run(monkeypatch):
    # the kernels group of python -m attnlib.bench; its timing runs in the CLI, not here
    from attnlib.bench import chapters
    group = chapters.groups()["kernels"]
    monkeypatch.setattr(flash, "_interpreted", lambda kernels: False)
    results, ratios = group("cpu", rounds=1, min_run_time=1e-3)
    assert ratios == [] and len(results) == 2
    assert all(r.note.startswith("not available: `query` is on cpu") for r in results)
