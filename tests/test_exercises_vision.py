"""Chapter 13's checkers pass the book's solutions and fail typical mistakes with their hints."""

import pytest
import torch

from attnlib import exercises as ex
from conftest import fails_with, stub


@pytest.mark.parametrize("checker", [ex.check_axial_width, ex.check_se_gate])
def test_stub_and_junk_never_pass(checker):
    fails_with(checker(stub), "not done yet")
    fails_with(checker(lambda *a: None), "did you forget a `return`?")
    fails_with(checker(lambda *a: 1 / 0), "raised ZeroDivisionError")
    fails_with(checker("not a function"), "expected a function")
    fails_with(checker(lambda *a: torch.zeros(1)), "expected shape")


# the book's solutions ------------------------------------------------------------------

def axial_width(x, mha):
    B, C, H, W = x.shape
    rows = x.permute(0, 2, 3, 1).reshape(B * H, W, C)  # (B, C, H, W) -> (B*H, W, C)
    out, _ = mha(rows, rows, rows)
    return out.view(B, H, W, C).permute(0, 3, 1, 2)  # (B*H, W, C) -> (B, C, H, W)


def se_gate(x, fc1, fc2):
    z = x.mean(dim=(2, 3), keepdim=True)  # (B, C, H, W) -> (B, C, 1, 1)
    return torch.sigmoid(fc2(torch.relu(fc1(z))))


def test_axial_width():
    assert ex.check_axial_width(axial_width).passed
    import attnlib
    axial = lambda x, mha: attnlib.AxialAttention(x.shape[1], mha.num_heads, axis="width")
    # the library's module, given the same attention, is a right answer too
    def library(x, mha):
        module = axial(x, mha)
        module.attn = mha
        return module(x)
    assert ex.check_axial_width(library).passed


def test_axial_width_mistakes():
    def columns(x, mha):
        B, C, H, W = x.shape
        cols = x.permute(0, 3, 2, 1).reshape(B * W, H, C)
        return mha(cols, cols, cols)[0].view(B, W, H, C).permute(0, 3, 2, 1)
    fails_with(ex.check_axial_width(columns), "attends along each column")

    def no_permute(x, mha):
        B, C, H, W = x.shape
        rows = x.reshape(B * H, W, C)
        return mha(rows, rows, rows)[0].reshape(B, C, H, W)
    fails_with(ex.check_axial_width(no_permute), "mixes channels into positions")

    def not_back(x, mha):
        B, C, H, W = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(B * H, W, C)
        return mha(rows, rows, rows)[0].view(B, H, W, C)
    fails_with(ex.check_axial_width(not_back), "move the channels back")

    def rows_only(x, mha):
        B, C, H, W = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(B * H, W, C)
        return mha(rows, rows, rows)[0]
    fails_with(ex.check_axial_width(rows_only), "expected shape (1, 4, 3, 5), got (3, 5, 4)")

    def view_after_permute(x, mha):
        B, C, H, W = x.shape
        rows = x.permute(0, 2, 3, 1).view(B * H, W, C)  # fails once B > 1
        return mha(rows, rows, rows)[0].view(B, H, W, C).permute(0, 3, 1, 2)
    fails_with(ex.check_axial_width(view_after_permute), "raised RuntimeError")


def test_se_gate():
    assert ex.check_se_gate(se_gate).passed
    fails_with(ex.check_se_gate(lambda x, f1, f2: torch.softmax(
        f2(torch.relu(f1(x.mean((2, 3), keepdim=True)))), dim=1)), "compete")
    fails_with(ex.check_se_gate(lambda x, f1, f2: torch.sigmoid(
        f2(torch.relu(f1(x.amax((2, 3), keepdim=True)))))), "not the maximum")
    fails_with(ex.check_se_gate(lambda x, f1, f2: torch.sigmoid(
        f2(f1(x.mean((2, 3), keepdim=True))))), "ReLU between fc1 and fc2 is missing")
    fails_with(ex.check_se_gate(lambda x, f1, f2: torch.sigmoid(
        f2(torch.relu(f1(x)))).mean((2, 3), keepdim=True)), "pool first")
    fails_with(ex.check_se_gate(lambda x, f1, f2: torch.sigmoid(
        f2(torch.relu(f1(x.mean((2, 3), keepdim=True)))))[:, :, 0, 0]), "expected shape")


def score_counts(n, patch):
    full = (n * n) ** 2  # n*n pixels, each scored against every pixel
    axial = n * n * n + n * n * n  # height pass + width pass: n*n pixels, each against n
    patches = ((n // patch) ** 2) ** 2  # (n/patch)**2 patch tokens, full attention
    return full, axial, patches


def test_score_counts_stub_and_junk_never_pass():
    fails_with(ex.check_score_counts(stub), "not done yet")
    fails_with(ex.check_score_counts(lambda n, p: None), "did you forget a `return`?")
    fails_with(ex.check_score_counts(lambda n, p: 1 / 0), "raised ZeroDivisionError")
    fails_with(ex.check_score_counts("not a function"), "expected a function")
    for junk in [7, "n**4", (1, 2), [1, 2, 3, 4], torch.zeros(3), {"full": 1}]:
        fails_with(ex.check_score_counts(lambda n, p, junk=junk: junk),
                   "expected a tuple of three ints")
    fails_with(ex.check_score_counts(lambda n, p: (n**4, "2", 3)), "count 2 of 3 is not a number")
    fails_with(ex.check_score_counts(lambda n, p: (n**4, None, 3)), "count 2 of 3 is not a number")
    fails_with(ex.check_score_counts(lambda n, p: (10**400, 1, 2)), "too large")
    fails_with(ex.check_score_counts(lambda n, p: (float("nan"), 1, 2)), "contains NaN")
    for junk in [7, (1, 2), (4, True, 3)]:
        report = ex.check_score_counts(lambda n, p, junk=junk: junk)
        assert "return full, axial, patches" in str(report), str(report)
        assert "torch.Tensor" not in str(report), str(report)


def test_score_counts():
    report = ex.check_score_counts(score_counts)
    assert report.passed, str(report)
    assert str(report) == "✓ score_counts: all 4 cases pass. Well done!"
    # floats equal to the counts, numpy and 0-d torch integers, and a list pass too
    import numpy as np
    assert ex.check_score_counts(lambda n, p: [float(n**4), np.int64(2 * n**3),
                                               torch.tensor((n // p) ** 4)]).passed


def test_score_counts_mistakes():
    report = ex.check_score_counts(lambda n, p: (n**4, n**3, (n // p) ** 4))
    fails_with(report, "n**3 is one axial pass")
    assert "expected (20736, 3456, 1296)\ngot      (20736, 1728, 1296)" in str(report)
    # every case has more than two patches a side, so a wrong patch count fails at once
    patches = ex.check_score_counts(lambda n, p: (n**4, 2 * n**3, (n // p) ** 2))
    fails_with(patches, "(n/patch)**2 patches (tokens)")
    assert "case 1/4" in str(patches)
    fails_with(ex.check_score_counts(lambda n, p: (n**4, 2 * n**3, n // p)),
               "(n/patch)**2 patches (tokens)")
    fails_with(ex.check_score_counts(lambda n, p: (n**2, 2 * n**3, (n // p) ** 4)),
               "n*n is the number of pixels (tokens)")
    fails_with(ex.check_score_counts(lambda n, p: (1, n / 2, p**4)), "not how many times")
    fails_with(ex.check_score_counts(lambda n, p: (n**4, n / 2, p**4)), "not how many times")
    fails_with(ex.check_score_counts(lambda n, p: (n**4, 2 / n, 1 / p**4)), "not how many times")
    # wrong only for the largest image: caught exactly, printed in full
    off_by_one = ex.check_score_counts(lambda n, p: (n**4, 2 * n**3 + (n == 224), (n // p) ** 4))
    fails_with(off_by_one, "got      (2517630976, 22478849, 38416)")
    fails_with(off_by_one, "attention over T tokens computes T*T scores")


def test_score_counts_reports_fit_72_columns():
    for fn in [stub, score_counts, lambda n, p: (n**4, n**3, (n // p) ** 4),
               lambda n, p: "x" * 200, lambda n, p: (10**400, 1, 2), lambda n, p: 1 / 0]:
        lines = str(ex.check_score_counts(fn)).split("\n")
        assert max(map(len, lines)) <= 72, lines
