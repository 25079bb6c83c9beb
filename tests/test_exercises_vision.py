"""Chapter 10's checkers pass the book's solutions and fail typical mistakes with their hints."""

import pytest
import torch

from attnlib import exercises as ex


def stub(*args):
    raise NotImplementedError


def fails_with(report, hint):
    assert not report.passed, str(report)
    assert hint in str(report), str(report)


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
