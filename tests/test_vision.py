"""Channel, coordinate, axial and temporal attention against references written from the papers."""

import math

import pytest
import torch
from torch import nn

import attnlib
from attnlib import AxialAttention, CoordinateAttention, MultiHeadAttention, SqueezeExcitation
from attnlib import TemporalAttention


# References, written from the papers' layouts -------------------------------------------

class TorchvisionSE(nn.Module):
    """torchvision.ops.SqueezeExcitation's layout: avgpool, fc1, fc2 (1x1 convs), ReLU, sigmoid."""

    def __init__(self, input_channels, squeeze_channels):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, x):
        s = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return s * x


class HSigmoid(nn.Module):
    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU6()

    def forward(self, x):
        return self.relu(x + 3) / 6


class HSwish(nn.Module):
    def __init__(self):
        super().__init__()
        self.sigmoid = HSigmoid()

    def forward(self, x):
        return x * self.sigmoid(x)


class AuthorsCoordAtt(nn.Module):
    """The coordinate attention authors' layout (Hou et al., 2021): pooled rows and columns
    concatenated, one 1x1 conv, BN and h-swish, split, one 1x1 conv and a sigmoid each."""

    def __init__(self, inp, oup, reduction=32):
        super().__init__()
        self.pool_h = nn.AdaptiveAvgPool2d((None, 1))
        self.pool_w = nn.AdaptiveAvgPool2d((1, None))
        mip = max(8, inp // reduction)
        self.conv1 = nn.Conv2d(inp, mip, kernel_size=1, stride=1, padding=0)
        self.bn1 = nn.BatchNorm2d(mip)
        self.act = HSwish()
        self.conv_h = nn.Conv2d(mip, oup, kernel_size=1, stride=1, padding=0)
        self.conv_w = nn.Conv2d(mip, oup, kernel_size=1, stride=1, padding=0)

    def forward(self, x):
        n, c, h, w = x.size()
        x_h = self.pool_h(x)
        x_w = self.pool_w(x).permute(0, 1, 3, 2)
        y = self.act(self.bn1(self.conv1(torch.cat([x_h, x_w], dim=2))))
        x_h, x_w = torch.split(y, [h, w], dim=2)
        a_h = self.conv_h(x_h).sigmoid()
        a_w = self.conv_w(x_w.permute(0, 1, 3, 2)).sigmoid()
        return x * a_w * a_h


def randomise(module, gen):
    """Every parameter and BN statistic drawn at random, so a wrong layout cannot pass."""
    with torch.no_grad():
        for t in module.parameters():
            t.copy_(torch.randn(t.shape, generator=gen) * 0.5)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.5)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
    return module


# Squeeze-and-excitation -------------------------------------------------------------------

def test_se_exchanges_state_dicts_with_torchvision_layout_and_matches(gen):
    ours = SqueezeExcitation(12, 3)
    ref = randomise(TorchvisionSE(12, 3), gen)
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 12, 5, 7, generator=gen)
    torch.testing.assert_close(ours(x), ref(x))
    back = TorchvisionSE(12, 3)
    back.load_state_dict(ours.state_dict(), strict=True)
    torch.testing.assert_close(back(x), ref(x))
    assert sorted(ours.state_dict()) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]


def test_se_gate_is_a_per_channel_sigmoid(gen):
    se = randomise(SqueezeExcitation(6, 2), gen)
    x = torch.randn(3, 6, 4, 4, generator=gen)
    g = se.gate(x)
    assert g.shape == (3, 6, 1, 1) and ((g > 0) & (g < 1)).all()
    torch.testing.assert_close(se(x), g * x)
    # any image: the gates depend on it only through the channel means (the squeeze)
    z = x.mean((2, 3))
    expected = torch.sigmoid(se.fc2.weight[:, :, 0, 0] @ torch.relu(
        se.fc1.weight[:, :, 0, 0] @ z.T + se.fc1.bias[:, None]) + se.fc2.bias[:, None]).T
    torch.testing.assert_close(g[:, :, 0, 0], expected)


# Coordinate attention ---------------------------------------------------------------------

@pytest.mark.parametrize("channels,reduction,hidden", [(16, 32, 8), (64, 4, 16), (40, 5, 8)])
def test_ca_hidden_size(channels, reduction, hidden):
    assert CoordinateAttention(channels, reduction).conv1.out_channels == hidden
    assert AuthorsCoordAtt(channels, channels, reduction).conv1.out_channels == hidden


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_ca_loads_authors_weights_strictly_and_matches(mode, gen):
    ref = randomise(AuthorsCoordAtt(24, 24, reduction=2), gen)
    ours = CoordinateAttention(24, reduction=2)
    ours.load_state_dict(ref.state_dict(), strict=True)
    assert ours.state_dict().keys() == ref.state_dict().keys()
    getattr(ref, mode)()
    getattr(ours, mode)()
    x = torch.randn(3, 24, 6, 9, generator=gen)
    torch.testing.assert_close(ours(x), ref(x))
    # in training mode both update the same running statistics
    torch.testing.assert_close(ours.bn1.running_mean, ref.bn1.running_mean)
    torch.testing.assert_close(ours.bn1.running_var, ref.bn1.running_var)


def test_ca_gates_keep_rows_and_columns(gen):
    ca = randomise(CoordinateAttention(8, 1), gen).eval()
    x = torch.randn(2, 8, 5, 7, generator=gen)
    g_h, g_w = ca.gates(x)
    assert g_h.shape == (2, 8, 5, 1) and g_w.shape == (2, 8, 1, 7)
    torch.testing.assert_close(ca(x), x * g_h * g_w)
    # the row gates depend on the row means only: shuffling within rows changes nothing
    shuffled = x[..., torch.randperm(7, generator=gen)]
    torch.testing.assert_close(ca.gates(shuffled)[0], g_h)


# Axial attention --------------------------------------------------------------------------

def axial_by_loop(x, mha, axis):
    """Multi-head attention on every column (height) or row (width), one at a time."""
    out = torch.empty_like(x)
    B, C, H, W = x.shape
    for b in range(B):
        if axis == "height":
            for j in range(W):
                seq = x[b, :, :, j].T[None]  # (1, H, C)
                out[b, :, :, j] = mha(seq, seq, seq)[0][0].T
        else:
            for i in range(H):
                seq = x[b, :, i, :].T[None]  # (1, W, C)
                out[b, :, i, :] = mha(seq, seq, seq)[0][0].T
    return out


@pytest.mark.parametrize("axis", ["height", "width"])
def test_axial_equals_multihead_attention_along_each_column_or_row(axis, gen):
    axial = AxialAttention(8, 2, axis=axis)
    assert isinstance(axial.attn, MultiHeadAttention)
    x = torch.randn(2, 8, 5, 6, generator=gen)
    out, w = axial(x)
    torch.testing.assert_close(out, axial_by_loop(x, axial.attn, axis))
    n, L = (6, 5) if axis == "height" else (5, 6)
    assert w.shape == (2, n, 2, L, L)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, n, 2, L))
    fused, none = axial(x, need_weights=False)
    assert none is None
    torch.testing.assert_close(fused, out)


def test_axial_loads_nn_multiheadattention_weights(gen):
    torch_mha = nn.MultiheadAttention(8, 2, batch_first=True)
    axial = AxialAttention(8, 2, axis="width")
    axial.attn.load_state_dict(torch_mha.state_dict(), strict=True)
    x = torch.randn(1, 8, 3, 4, generator=gen)
    seq = x[0].permute(1, 2, 0)  # (C, H, W) -> (H, W, C): the rows as a batch
    expected = torch_mha(seq, seq, seq)[0].permute(2, 0, 1)[None]
    torch.testing.assert_close(axial(x)[0], expected)


@pytest.mark.parametrize("axis", ["height", "width"])
def test_a_change_in_one_pixel_reaches_only_its_own_column_or_row(axis, gen):
    axial = AxialAttention(4, 1, axis=axis)
    x = torch.randn(1, 4, 5, 6, generator=gen)
    y = x.clone()
    y[0, :, 2, 3] += 1.0
    changed = (axial(y)[0] - axial(x)[0]).abs().amax(1)[0] > 1e-6  # (H, W)
    expected = torch.zeros(5, 6, dtype=torch.bool)
    if axis == "height":
        expected[:, 3] = True
    else:
        expected[2, :] = True
    assert torch.equal(changed, expected)


@pytest.mark.parametrize("axis", ["height", "width"])
def test_an_axial_pass_knows_no_positions_along_its_axis(axis, gen):
    """Permuting the pixels along the pass's axis permutes its output the same way."""
    axial = AxialAttention(4, 2, axis=axis)
    x = torch.randn(2, 4, 5, 6, generator=gen)
    dim = 2 if axis == "height" else 3
    order = torch.randperm(x.shape[dim], generator=gen)
    out = axial(x.index_select(dim, order))[0]
    torch.testing.assert_close(out, axial(x)[0].index_select(dim, order))


def test_two_axial_passes_reach_every_pixel(gen):
    rows, cols = AxialAttention(4, 1, axis="width"), AxialAttention(4, 1, axis="height")
    x = torch.randn(1, 4, 5, 6, generator=gen)
    y = x.clone()
    y[0, :, 2, 3] += 1.0
    both = lambda t: cols(rows(t)[0])[0]
    assert ((both(y) - both(x)).abs().amax(1) > 1e-6).all()


def test_axial_does_not_change_its_input_and_keeps_dtype(gen):
    axial = AxialAttention(4, 2, axis="height").double()
    x = torch.randn(2, 4, 3, 3, generator=gen, dtype=torch.float64)
    before = x.clone()
    out, w = axial(x)
    assert torch.equal(x, before) and out.dtype == w.dtype == torch.float64


# Temporal attention -----------------------------------------------------------------------

def test_temporal_attention_is_a_softmax_over_frames_with_a_learned_query(gen):
    pool = TemporalAttention(6, 1)
    frames = torch.randn(3, 5, 6, generator=gen)
    out, w = pool(frames)
    mha = pool.attn
    w_q, w_k, w_v = mha.in_proj_weight.chunk(3)
    b_q, b_k, b_v = mha.in_proj_bias.chunk(3)
    q = pool.query @ w_q.T + b_q  # (E,)
    k, v = frames @ w_k.T + b_k, frames @ w_v.T + b_v  # (B, T, E)
    alpha = torch.softmax(k @ q / math.sqrt(6), dim=-1)  # (B, T)
    torch.testing.assert_close(w, alpha[:, None])
    torch.testing.assert_close(out, mha.out_proj((alpha[..., None] * v).sum(1)))


def test_temporal_attention_ignores_the_frames_order_but_compares_them(gen):
    pool = TemporalAttention(8, 1)
    frames = torch.randn(2, 6, 8, generator=gen)
    order = torch.randperm(6, generator=gen)
    out, w = pool(frames)
    shuffled, w_shuffled = pool(frames[:, order])
    torch.testing.assert_close(shuffled, out)  # no positions: order does not count
    torch.testing.assert_close(w_shuffled, w[..., order])
    # a frame's weight depends on the other frames (the mean's share is always 1/T)
    other = frames.clone()
    other[:, 1:] = torch.randn(2, 5, 8, generator=gen)
    assert not torch.allclose(pool(other)[1][..., 0], w[..., 0])


def test_temporal_attention_mask_drops_frames(gen):
    pool = TemporalAttention(8, 2)
    frames = torch.randn(2, 6, 8, generator=gen)
    mask = torch.ones(2, 6, dtype=torch.bool)
    mask[:, 4:] = False
    out, w = pool(frames, mask)
    assert w.shape == (2, 2, 6) and (w[..., 4:] == 0).all()
    torch.testing.assert_close(out, pool(frames[:, :4])[0])


# Gradients, dtypes, errors -----------------------------------------------------------------

MODULES = {
    "se": lambda: SqueezeExcitation(4, 2),
    "ca": lambda: CoordinateAttention(4, 1),
    "axial-height": lambda: AxialAttention(4, 2, axis="height"),
    "axial-width": lambda: AxialAttention(4, 2, axis="width"),
}


@pytest.mark.parametrize("name", list(MODULES))
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradcheck_float64(name, mode, gen):
    module = getattr(MODULES[name]().double(), mode)()
    x = torch.randn(2, 4, 2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    fn = (lambda t: module(t)[0]) if name.startswith("axial") else module
    assert torch.autograd.gradcheck(fn, (x,))


def test_gradcheck_temporal_float64(gen):
    pool = TemporalAttention(4, 2).double()
    frames = torch.randn(2, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda f: pool(f)[0], (frames,))


@pytest.mark.parametrize("name", list(MODULES))
def test_bad_images_get_clear_errors(name):
    module = MODULES[name]()
    call = module
    with pytest.raises(ValueError, match=r"`x` must have channels C \(dim 1\) = 4; got shape "
                                         r"\(2, 3, 5, 5\)"):
        call(torch.randn(2, 3, 5, 5))
    with pytest.raises(ValueError, match=r"`x` must be 4-D with shape \(B, C, H, W\); got 3-D"):
        call(torch.randn(4, 5, 5))
    with pytest.raises(TypeError, match="`x` must be a floating-point tensor"):
        call(torch.ones(1, 4, 2, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="`x` must be a torch.Tensor"):
        call([[1.0]])
    with pytest.raises(TypeError, match="`x` has dtype torch.float64"):
        call(torch.randn(1, 4, 2, 2, dtype=torch.float64))


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match=r"`axis` must be one of \('height', 'width'\).*'depth'"):
        AxialAttention(4, 2, axis="depth")
    with pytest.raises(TypeError, match="`axis` must be one of"):
        AxialAttention(4, 2, axis=1)
    with pytest.raises(TypeError, match="missing 1 required keyword-only argument: 'axis'"):
        AxialAttention(4, 2)
    with pytest.raises(ValueError, match="`embed_dim` must be divisible by `num_heads`"):
        AxialAttention(6, 4, axis="width")
    with pytest.raises(ValueError, match="`squeeze_channels` must be a positive int; got 0"):
        SqueezeExcitation(4, 0)
    with pytest.raises(TypeError, match="`reduction` must be a positive int; got float"):
        CoordinateAttention(4, 2.0)
    pool = TemporalAttention(4)
    with pytest.raises(ValueError, match=r"`frames` must be 3-D with shape \(B, T, E\)"):
        pool(torch.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"`frames` must have last dim E \(embed_dim\) = 4"):
        pool(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"`mask` must be broadcastable .* \(B, T\) = \(2, 3\)"):
        pool(torch.randn(2, 3, 4), torch.ones(2, 4, dtype=torch.bool))


def test_public_names():
    for name in ["SqueezeExcitation", "CoordinateAttention", "AxialAttention",
                 "TemporalAttention"]:
        assert name in attnlib.__all__ and name in attnlib.__doc__


@pytest.mark.parametrize("name", list(MODULES))
def test_runs_on_the_device_of_its_input(name, device, gen):
    module = MODULES[name]().to(device).eval()
    x = torch.randn(2, 4, 3, 5, generator=gen).to(device)
    out = module(x)
    out = out[0] if isinstance(out, tuple) else out
    assert out.device.type == device.type and out.dtype == x.dtype
