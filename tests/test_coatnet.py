"""Relative attention on a 2-D grid against timm's RelPosBias, and the small CoAtNet."""

import pytest
import torch

from attnlib import CoAtNet, RelativeAttention2d, RelativePositionBias2d, relative_position_index
from attnlib.coatnet import MBConv, RelativeBlock
from timm_reference import RelPosBias

GRIDS = [(3, 4, 2), (1, 1, 1), (5, 2, 3), (4, 4, 1)]  # height, width, heads


def _offset_row(yi, xi, yj, xj, height, width):
    """The table row of the offset (yi - yj, xi - xj), from the formula in the module."""
    return (yi - yj + height - 1) * (2 * width - 1) + (xi - xj + width - 1)


@pytest.mark.parametrize("height, width, heads", GRIDS)
def test_index_is_the_offset_formula(height, width, heads):
    index = relative_position_index(height, width)
    L = height * width
    assert index.shape == (L, L) and index.dtype == torch.int64
    for i in range(L):
        for j in range(L):
            assert index[i, j] == _offset_row(i // width, i % width, j // width, j % width,
                                              height, width)
    # every offset is used, so no row of the table is wasted
    assert index.unique().numel() == (2 * height - 1) * (2 * width - 1)


@pytest.mark.parametrize("height, width, heads", GRIDS)
def test_bias_equals_timm(height, width, heads):
    theirs = RelPosBias((height, width), heads).double()
    ours = RelativePositionBias2d(height, width, heads).double()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert ours.relative_position_bias_table.shape == ((2 * height - 1) * (2 * width - 1),
                                                       heads)
    torch.testing.assert_close(ours.get_bias(), theirs.get_bias(), rtol=0, atol=1e-6)
    scores = torch.randn(2, heads, height * width, height * width, dtype=torch.float64)
    torch.testing.assert_close(ours(scores), theirs(scores), rtol=0, atol=1e-6)
    theirs.load_state_dict(ours.state_dict(), strict=True)


def test_bias_depends_on_the_offset_only(gen):
    rel = RelativePositionBias2d(4, 5, 2)
    bias = rel.get_bias()[0]  # (H, L, L)
    width = 5
    # pixel (1, 1) -> (2, 3) and pixel (2, 0) -> (3, 2): the same offset, the same bias
    a = bias[:, 1 * width + 1, 2 * width + 3]
    b = bias[:, 2 * width + 0, 3 * width + 2]
    assert torch.equal(a, b)
    row = _offset_row(1, 1, 2, 3, 4, 5)
    assert torch.equal(a, rel.relative_position_bias_table[row])


def test_relative_attention_is_softmax_of_scores_plus_bias(gen):
    attn = RelativeAttention2d(8, 2, 2, 3).double()
    x = torch.randn(3, 6, 8, dtype=torch.float64, generator=gen)
    out, weights = attn(x, need_weights=True)
    qkv = attn.qkv(x).view(3, 6, 3, 2, 4)
    q, k, v = (qkv[:, :, n].transpose(1, 2) for n in range(3))  # (B, H, L, E/H)
    expected_w = (q @ k.transpose(-2, -1) / 2 + attn.rel_pos.get_bias()).softmax(-1)
    torch.testing.assert_close(weights, expected_w)
    expected = attn.proj((expected_w @ v).transpose(1, 2).reshape(3, 6, 8))
    torch.testing.assert_close(out, expected)
    fused, none = attn(x)  # PyTorch's kernel, the same result
    assert none is None
    torch.testing.assert_close(fused, out)


def test_relative_attention_gradcheck(gen):
    attn = RelativeAttention2d(4, 2, 2, 2).double()
    x = torch.randn(2, 4, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: attn(x, need_weights=True), (x,))
    assert torch.autograd.gradcheck(lambda x: attn(x)[0], (x,))
    # the table's gradient: compare with finite differences through a functional call
    t = attn.rel_pos.relative_position_bias_table.detach().clone().requires_grad_(True)

    def through_table(t):
        return torch.func.functional_call(attn, {"rel_pos.relative_position_bias_table": t},
                                          (x.detach(),), {"need_weights": True})

    assert torch.autograd.gradcheck(through_table, (t,))


def test_relative_attention_errors():
    attn = RelativeAttention2d(8, 2, 2, 3)
    with pytest.raises(ValueError, match=r"L = height \* width = 6"):
        attn(torch.randn(1, 5, 8))
    with pytest.raises(ValueError, match="last dim E"):
        attn(torch.randn(1, 6, 4))
    with pytest.raises(ValueError, match=r"3-D with shape \(B, L, E\)"):
        attn(torch.randn(6, 8))
    with pytest.raises(ValueError, match="`embed_dim` must be divisible by `num_heads`"):
        RelativeAttention2d(8, 3, 2, 2)
    with pytest.raises(TypeError, match="`height` must be a positive int"):
        RelativePositionBias2d(2.0, 2, 1)
    with pytest.raises(ValueError, match="`num_heads` must be a positive int"):
        RelativePositionBias2d(2, 2, 0)


def test_mbconv_shapes_and_residual(gen):
    block = MBConv(8, 8).eval()
    x = torch.randn(2, 8, 6, 6, generator=gen)
    with torch.no_grad():
        block.project.weight.zero_()
        block.project.bias.zero_()
        torch.testing.assert_close(block(x), x)  # the residual path alone
    assert MBConv(8, 16, stride=2)(x).shape == (2, 16, 3, 3)
    with pytest.raises(ValueError, match="`stride` must be 1 or 2"):
        MBConv(8, 8, stride=3)


def test_coatnet_layout_and_shapes(gen):
    net = CoAtNet(12, 2, 3).eval()
    x = torch.randn(4, 2, 12, 12, generator=gen)
    assert net(x).shape == (4, 3)
    maps = net.attention_maps(x)
    assert [tuple(m.shape) for m in maps] == [(4, 2, 36, 36), (4, 2, 9, 9)]
    for m in maps:
        torch.testing.assert_close(m.sum(-1), torch.ones(m.shape[:-1]))
    names = dict(net.named_parameters())
    assert names["s3.0.attn.rel_pos.relative_position_bias_table"].shape == (11 * 11, 2)
    assert names["s4.0.attn.rel_pos.relative_position_bias_table"].shape == (5 * 5, 2)
    assert isinstance(net.s3[0], RelativeBlock) and isinstance(net.s1[0], MBConv)
    assert "fc1" in dict(net.s1[0].se.named_children())  # chapter 13's SE module


def test_coatnet_gradcheck_of_a_transformer_stage(gen):
    block = RelativeBlock(4, 2, 2, 2, mlp_ratio=1.0).double()
    x = torch.randn(2, 4, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: block(x)[0], (x,))


def test_coatnet_errors():
    with pytest.raises(ValueError, match="`img_size` must be divisible by 4"):
        CoAtNet(10, 2, 2)
    with pytest.raises(ValueError, match="`num_heads` must divide"):
        CoAtNet(12, 2, 2, num_heads=3)
    with pytest.raises(ValueError, match="`dims` must have 5 sizes"):
        CoAtNet(12, 2, 2, dims=(8, 8, 8))
    net = CoAtNet(12, 2, 2)
    with pytest.raises(ValueError, match=r"channels C \(dim 1\) = 2"):
        net(torch.randn(1, 3, 12, 12))
    with pytest.raises(ValueError, match="`x` must be 12x12 images"):
        net(torch.randn(1, 2, 8, 8))


def test_coatnet_runs_on_the_device(device, gen):
    net = CoAtNet(8, 1, 2).to(device)
    out = net(torch.randn(2, 1, 8, 8, generator=gen).to(device))
    assert out.device.type == device.type and out.shape == (2, 2)
