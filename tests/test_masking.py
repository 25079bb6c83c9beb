import torch

from attnlib import masked_softmax


def test_no_mask_is_plain_softmax(gen):
    s = torch.randn(3, 4, 5, generator=gen)
    torch.testing.assert_close(masked_softmax(s), torch.softmax(s, -1))


def test_masked_keys_get_zero_and_rows_renormalise(gen):
    s = torch.randn(3, 4, 5, generator=gen)
    mask = torch.rand(3, 4, 5, generator=gen) > 0.4
    mask[0, 0] = True
    w = masked_softmax(s, mask)
    assert torch.all(w[~mask] == 0)
    has_key = mask.any(-1)
    torch.testing.assert_close(w.sum(-1)[has_key], torch.ones(int(has_key.sum())))
    # equal to a softmax over the allowed entries alone, row by row
    for idx in has_key.nonzero():
        row_s, row_m = s[tuple(idx)], mask[tuple(idx)]
        torch.testing.assert_close(w[tuple(idx)][row_m], torch.softmax(row_s[row_m], -1))


def test_fully_masked_row_is_zero_with_finite_gradient():
    s = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    mask = torch.tensor([[True, False, True], [False, False, False]])
    w = masked_softmax(s, mask)
    assert torch.all(w[1] == 0)
    (w * torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])).sum().backward()
    assert torch.isfinite(s.grad).all()
    assert torch.all(s.grad[1] == 0) and s.grad[0, 1] == 0


def test_mask_broadcasts(gen):
    s = torch.randn(2, 3, 4, generator=gen)
    key_mask = torch.tensor([True, True, False, True])
    torch.testing.assert_close(masked_softmax(s, key_mask), masked_softmax(s, key_mask.expand(2, 3, 4)))


def test_large_scores_and_half_precision(gen):
    s = torch.randn(2, 3, 4, generator=gen) * 1e4
    mask = torch.rand(2, 3, 4, generator=gen) > 0.5
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        w = masked_softmax(s.to(dtype).clamp(-6e4, 6e4), mask)
        assert torch.isfinite(w).all() and w.dtype == dtype
