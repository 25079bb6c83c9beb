"""Every checker passes a right answer and fails typical wrong ones with the right hint."""

import pytest
import torch

import attnlib
from attnlib import exercises as ex
from conftest import fails_with, stub


@pytest.mark.parametrize("checker", [ex.check_laplace_weights, ex.check_einsum_output,
                                     ex.check_batched_rule1, ex.check_additive_scores,
                                     ex.check_masked_softmax, ex.check_causal_self_attention,
                                     ex.check_decoder_attention_step, ex.check_tiled_padding])
def test_stub_is_reported_as_not_done_and_junk_never_passes(checker):
    fails_with(checker(stub), "not done yet")
    fails_with(checker(lambda *a: None), "did you forget a `return`?")
    fails_with(checker(lambda *a: 1 / 0), "raised ZeroDivisionError")
    fails_with(checker("not a function"), "expected a function")
    fails_with(checker(lambda *a: torch.zeros(1)), "expected")


# chapter 1 ---------------------------------------------------------------------------

def laplace(xq, xk, b):
    return torch.softmax(-(xq[:, None] - xk[None, :]).abs() / b, dim=1)


@pytest.mark.parametrize("wrong,hint", [
    (lambda xq, xk, b: torch.softmax(-(xq[:, None] - xk[None, :]).abs() / b, dim=0), "sum to 1"),
    (lambda xq, xk, b: torch.softmax(-(xq[:, None] - xk[None, :]) / b, dim=1), ".abs()"),
    (lambda xq, xk, b: torch.softmax(-(xq[:, None] - xk[None, :]).abs(), dim=1), "divide"),
    (lambda xq, xk, b: torch.softmax(-(xq[:, None] - xk[None, :]) ** 2 / b, dim=1), "not (x - x_i)**2"),
    (lambda xq, xk, b: laplace(xq, xk, b).T, "(L, S), not (S, L)"),
])
def test_laplace(wrong, hint):
    assert ex.check_laplace_weights(laplace).passed
    fails_with(ex.check_laplace_weights(wrong), hint)


# chapter 2 ---------------------------------------------------------------------------

def test_einsum():
    assert ex.check_einsum_output(lambda w, v: torch.einsum("bhls,bhsv->bhlv", w, v))
    fails_with(ex.check_einsum_output(lambda w, v: torch.einsum("bhls,bhsv->bhlsv", w, v)),
               "summed over")
    fails_with(ex.check_einsum_output(lambda w, v: torch.einsum("bhsl,bhsv->bhlv", w, v)),
               "raised RuntimeError")
    square = ex.check_einsum_output(lambda w, v: torch.einsum("bhsl,bhsv->bhlv", w, v)
                                    if w.shape[-1] == w.shape[-2] else w @ v)
    fails_with(square, "summed over the query axis")


# chapter 3 ---------------------------------------------------------------------------

def rule1(Q, K, V, attn, combine):
    w = torch.softmax(attn(torch.cat((Q, K), -1)), -1)
    return combine(torch.cat((Q, torch.bmm(w, V)), -1)), w


def article_rule1(Q, K, V, attn, combine):  # the source article's batch-1-only forward
    w = torch.softmax(attn(torch.cat((Q[0], K[0]), 1)), dim=1)
    applied = torch.bmm(w.unsqueeze(0), V)
    return combine(torch.cat((Q[0], applied[0]), 1)).unsqueeze(0), w


def test_batched_rule1():
    assert ex.check_batched_rule1(rule1).passed
    fails_with(ex.check_batched_rule1(article_rule1), "keep the batch axis")
    fails_with(ex.check_batched_rule1(lambda *a: rule1(*a)[0]), "expected a tuple")
    fails_with(ex.check_batched_rule1(lambda Q, K, V, a, c: rule1(Q, K, V[:1].expand_as(V), a, c)),
               "its own V")


# chapter 4 ---------------------------------------------------------------------------

def additive(q, k, w_query, w_key, v):
    return v(torch.tanh(w_query(q).unsqueeze(2) + w_key(k).unsqueeze(1))).squeeze(-1)


def test_additive_scores():
    assert ex.check_additive_scores(additive).passed
    fails_with(ex.check_additive_scores(
        lambda q, k, wq, wk, v: v(torch.tanh(wq(q).unsqueeze(1) + wk(k).unsqueeze(2))).squeeze(-1)),
        "q.unsqueeze(2) + k.unsqueeze(1)")
    fails_with(ex.check_additive_scores(lambda *a: additive(*a).unsqueeze(-1)), "squeeze the last")
    fails_with(ex.check_additive_scores(
        lambda q, k, wq, wk, v: torch.tanh(wq(q).unsqueeze(2) + wk(k).unsqueeze(1)).sum(-1)),
        "learned v")


# chapter 5 ---------------------------------------------------------------------------

@pytest.mark.parametrize("wrong,hint", [
    (lambda s, m: torch.softmax(s.masked_fill(~m, float("-inf")), -1), "NaN"),
    (lambda s, m: torch.softmax(s.masked_fill(~m, -1e4), -1), "uniform"),
    (lambda s, m: attnlib.masked_softmax(s, ~m), "*may attend*"),
    (lambda s, m: torch.softmax(s, -1), "exactly 0"),
    (lambda s, m: torch.softmax(s.masked_fill(~m, float("-inf")), 0).nan_to_num(0.0), "sum to 1"),
])
def test_masked_softmax(wrong, hint):
    assert ex.check_masked_softmax(attnlib.masked_softmax).passed
    fails_with(ex.check_masked_softmax(wrong), hint)


def causal(x):
    L = x.shape[-2]
    scores = x @ x.transpose(-2, -1) / x.shape[-1] ** 0.5
    allowed = torch.ones(L, L, dtype=torch.bool).tril()
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), -1) @ x


@pytest.mark.parametrize("wrong,hint", [
    (lambda x: attnlib.scaled_dot_product_attention(x, x, x)[0], "no mask was applied"),
    (lambda x: attnlib.scaled_dot_product_attention(
        x, x, x, torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).triu())[0], ".tril(), not .triu()"),
    (lambda x: attnlib.scaled_dot_product_attention(x, x, x, is_causal=True, scale=1.0)[0], "sqrt(E)"),
    (lambda x: causal(x) + 0.01, "expected"),
])
def test_causal_self_attention(wrong, hint):
    assert ex.check_causal_self_attention(causal).passed
    fails_with(ex.check_causal_self_attention(wrong), hint)


# chapter 7 ---------------------------------------------------------------------------

def split(x, H):
    B, N, E = x.shape
    return x.view(B, N, H, E // H).transpose(1, 2)


def merge(x):
    B, H, N, d = x.shape
    return x.transpose(1, 2).reshape(B, N, H * d)


def test_split_merge():
    assert ex.check_split_merge(split, merge).passed
    fails_with(ex.check_split_merge(stub, merge), "not done yet")
    fails_with(ex.check_split_merge(split, stub), "not done yet")
    fails_with(ex.check_split_merge(lambda x, H: x.view(x.shape[0], H, x.shape[1], -1), merge),
               "view to (B, N, H, E/H), then transpose(1, 2)")
    fails_with(ex.check_split_merge(split, lambda x: x.reshape(x.shape[0], x.shape[2], -1)),
               "reshape without transpose(1, 2)")
    fails_with(ex.check_split_merge(split, lambda x: x.transpose(1, 2).view(x.shape[0], x.shape[2], -1)),
               "raised RuntimeError")


# chapter 8 ---------------------------------------------------------------------------

def tiled(q, k, v, pad, block, *, stand_in=True, use_pad=True, zero_empty=True):
    """Rule 3 over key blocks with an online softmax; the switches make typical mistakes."""
    import math
    m = q.new_full(q.shape[:-1], -math.inf)
    ell, acc = q.new_zeros(q.shape[:-1]), q.new_zeros((*q.shape[:-1], v.shape[-1]))
    for s0 in range(0, k.shape[-2], block):
        sl = slice(s0, s0 + block)
        scores = q @ k[..., sl, :].transpose(-2, -1) / math.sqrt(q.shape[-1])
        if use_pad:
            scores = scores.masked_fill(~pad[..., None, sl], -math.inf if zero_empty else -1e9)
        m_new = torch.maximum(m, scores.amax(-1))
        ref = m_new.masked_fill(m_new == -math.inf, 0.0) if stand_in else m_new
        p = torch.exp(scores - ref[..., None])
        rescale = torch.exp(m - ref)
        ell = rescale * ell + p.sum(-1)
        acc = rescale[..., None] * acc + p @ v[..., sl, :]
        m = m_new
    return acc / torch.where(ell > 0, ell, torch.ones_like(ell))[..., None]


def test_tiled_padding():
    assert ex.check_tiled_padding(tiled).passed
    fails_with(ex.check_tiled_padding(lambda *a: tiled(*a, stand_in=False)), "(-inf) - (-inf) = NaN")
    fails_with(ex.check_tiled_padding(lambda *a: tiled(*a, use_pad=False)), "padding is ignored")
    fails_with(ex.check_tiled_padding(lambda *a: tiled(*a, zero_empty=False)), "zero output")


def test_report_reads_as_text():
    r = ex.check_masked_softmax(attnlib.masked_softmax)
    assert repr(r) == str(r) == "✓ masked softmax: all 4 cases pass. Well done!"


def _failing_report(expected, got):
    from attnlib.exercises._report import Case, _run
    return _run("demo", lambda x: got.clone(), [Case("x", (expected,), expected)])


@pytest.mark.parametrize("scale", [1.0, 1e-7])  # 1e-7: long numbers, fewer fit on a line
def test_a_failing_report_shows_the_entries_that_differ(scale):
    # Right in its first entries, wrong later (a head in the wrong place looks like this):
    # the rows shown must differ, sit around the largest difference and name its index.
    expected = scale * torch.arange(1, 41, dtype=torch.float64).view(2, 4, 5)
    got = expected.clone()
    got[1, 2, 3] = -scale * 7.0
    report = _failing_report(expected, got)
    assert not report.passed
    lines = report.lines
    shown = {line.split()[0]: line.split(None, 1)[1] for line in lines
             if line.startswith(("expected ", "got "))}
    assert shown["expected"] != shown["got"], str(report)
    assert f"{scale * 34:.4g}" in shown["expected"] and f"{-scale * 7:.4g}" in shown["got"]
    assert "entries [1, 2, :], around the largest difference:" in lines
    assert f"largest difference {scale * 41:.3g} at [1, 2, 3]" in lines
    assert len(shown["expected"]) == len(shown["got"])  # lined up, entry under entry
    assert all(len(line) <= 72 for line in lines), str(report)


def test_a_failing_report_shows_a_small_result_whole():
    expected = torch.tensor([0.25, 0.5, 0.75, 1.0])
    report = _failing_report(expected, expected + 0.5)
    # entry under entry: each pair padded to one width
    assert report.lines[2:] == ["expected [0.25, 0.5, 0.75,   1]",
                                "got      [0.75,   1, 1.25, 1.5]",
                                "largest difference 0.5",
                                "hint: compare your result with the reference row by row."]


# the book's own solutions ------------------------------------------------------------

def _solutions_in_notebooks():
    """(notebook, checker name, function name, solution source) for every checked exercise.

    The stub cell calls ``check_x(fn)``; the solution is the first ```python block of the
    next ``{solution}`` dropdown.  Only its function definitions are kept, since the rest
    may use the chapter's variables.
    """
    import ast
    import re
    from pathlib import Path

    import nbformat

    found = []
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")):
        cells = nbformat.read(path, as_version=4).cells
        for i, cell in enumerate(cells):
            m = re.search(r"^(check_\w+)\(([\w, ]+)\)\s*$", cell.source, re.M)
            if cell.cell_type != "code" or not m:
                continue
            solution = next(c.source for c in cells[i + 1:]
                            if c.cell_type == "markdown" and "{solution}" in c.source)
            code = re.search(r"```python\n(.*?)```", solution, re.S).group(1)
            defs = [n for n in ast.parse(code).body if isinstance(n, ast.FunctionDef)]
            found.append((path.name, m.group(1), m.group(2), ast.unparse(ast.Module(defs, []))))
    return found


SOLUTIONS = _solutions_in_notebooks()


def test_every_checker_is_used_by_a_chapter():
    used = {checker for _, checker, _, _ in SOLUTIONS}
    assert used == {name for name in ex.__all__ if name.startswith("check_")}


@pytest.mark.parametrize("notebook,checker,fn_name,source", SOLUTIONS,
                         ids=[f"{nb}:{fn}" for nb, _, fn, _ in SOLUTIONS])
def test_the_books_solution_passes_its_checker(notebook, checker, fn_name, source):
    import math

    from torch import nn
    namespace = {"torch": torch, "attnlib": attnlib, "nn": nn, "math": math}
    exec(source, namespace)
    report = getattr(ex, checker)(*[namespace[name.strip()] for name in fn_name.split(",")])
    assert report.passed, f"{notebook}: the solution of {fn_name} fails:\n{report}"
