"""The Vision Transformer against timm's, and attention rollout against its definition."""

import pytest
import torch

from attnlib import VisionTransformer, attention_rollout
from timm_reference import VisionTransformer as TimmViT

CONFIGS = [  # img_size, patch_size, in_chans, num_classes, embed_dim, depth, num_heads, mlp
    (12, 3, 2, 3, 16, 2, 2, 4.0),
    (8, 4, 3, 5, 12, 3, 3, 2.0),
    (6, 1, 1, 2, 8, 1, 1, 4.0),
]


def _pair(config, gen):
    """timm's ViT with random weights (float64, eval) and attnlib's with its state_dict."""
    img, patch, chans, classes, dim, depth, heads, mlp = config
    torch.manual_seed(int(torch.randint(1000, (1,), generator=gen)))
    timm_vit = TimmViT(img_size=img, patch_size=patch, in_chans=chans, num_classes=classes,
                       embed_dim=dim, depth=depth, num_heads=heads, mlp_ratio=mlp)
    with torch.no_grad():  # timm zeroes some parameters at init: make every one count
        for p in timm_vit.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
    timm_vit = timm_vit.double().eval()
    ours = VisionTransformer(img, patch, chans, classes, dim, depth, heads, mlp).double()
    ours.load_state_dict(timm_vit.state_dict(), strict=True)
    x = torch.randn(4, chans, img, img, dtype=torch.float64, generator=gen)
    return timm_vit, ours.eval(), x


@pytest.mark.parametrize("config", CONFIGS)
def test_logits_equal_timm(config, gen):
    timm_vit, ours, x = _pair(config, gen)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), timm_vit(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize("config", CONFIGS)
def test_state_dict_goes_both_ways(config, gen):
    timm_vit, ours, _ = _pair(config, gen)
    assert set(ours.state_dict()) == set(timm_vit.state_dict())
    for key, value in ours.state_dict().items():
        assert value.shape == timm_vit.state_dict()[key].shape, key
    timm_vit.load_state_dict(ours.state_dict(), strict=True)


def test_attention_maps_are_timms_softmax(gen):
    """The maps are softmax(q k^T / sqrt(E/H)) from timm's own qkv of each block's input."""
    timm_vit, ours, x = _pair(CONFIGS[0], gen)
    maps = ours.attention_maps(x)  # (depth, B, H, L, L)
    z = timm_vit._pos_embed(timm_vit.patch_embed(x))
    heads = timm_vit.blocks[0].attn.num_heads
    with torch.no_grad():
        for d, block in enumerate(timm_vit.blocks):
            B, L, E = z.shape
            qkv = block.attn.qkv(block.norm1(z)).reshape(B, L, 3, heads, E // heads)
            q, k = qkv[:, :, 0].transpose(1, 2), qkv[:, :, 1].transpose(1, 2)
            expected = (q @ k.transpose(-2, -1) / (E // heads) ** 0.5).softmax(-1)
            torch.testing.assert_close(maps[d], expected, rtol=0, atol=1e-9)
            z = block(z)
    # the path that keeps the weights gives the same logits as the fused one
    features, _ = ours.forward_features(x, need_weights=True)
    torch.testing.assert_close(ours.head(features[:, 0]), ours(x), rtol=0, atol=1e-9)


def test_tokens_are_class_token_then_patches_plus_positions(gen):
    _, ours, x = _pair(CONFIGS[0], gen)
    with torch.no_grad():
        z = ours.tokens(x)
        P = ours.patch_embed.patch_size
        # patch (1, 2) in row-major order is token 1 + 1 * 4 + 2 = 7
        patch = x[:, :, P:2 * P, 2 * P:3 * P].flatten(1)  # (B, C*P*P)
        w = ours.patch_embed.proj.weight.flatten(1)  # (E, C*P*P)
        expected = patch @ w.T + ours.patch_embed.proj.bias + ours.pos_embed[0, 7]
        torch.testing.assert_close(z[:, 7], expected)
        torch.testing.assert_close(z[:, 0], (ours.cls_token + ours.pos_embed[:, 0])
                                   .expand(len(x), 1, -1)[:, 0])
    assert z.shape == (4, 17, 16)


def test_rollout_matches_its_definition(gen):
    depth, B, H, L = 3, 2, 2, 5
    maps = torch.rand(depth, B, H, L, L, generator=gen, dtype=torch.float64)
    maps = maps / maps.sum(-1, keepdim=True)
    expected = torch.empty(B, L, L, dtype=torch.float64)
    for b in range(B):  # written out: R = A'_3 A'_2 A'_1 with A' = (mean_h A + I) / 2
        r = torch.eye(L, dtype=torch.float64)
        for d in range(depth):
            a = sum(maps[d, b, h] for h in range(H)) / H
            r = ((a + torch.eye(L, dtype=torch.float64)) / 2) @ r
        expected[b] = r
    torch.testing.assert_close(attention_rollout(maps), expected)
    torch.testing.assert_close(attention_rollout(maps).sum(-1),
                               torch.ones(B, L, dtype=torch.float64))
    plain = attention_rollout(maps, residual=False)
    torch.testing.assert_close(plain, maps[2].mean(1) @ maps[1].mean(1) @ maps[0].mean(1))


def test_rollout_of_a_trained_shape(gen):
    vit = VisionTransformer(8, 2, 1, 2, 8, 2, 2)
    maps = vit.attention_maps(torch.randn(3, 1, 8, 8, generator=gen))
    assert maps.shape == (2, 3, 2, 17, 17)
    assert attention_rollout(maps).shape == (3, 17, 17)


def test_input_is_not_changed(gen):
    vit = VisionTransformer(8, 4, 2, 2, 8, 1, 2)
    x = torch.randn(2, 2, 8, 8, generator=gen)
    before = x.clone()
    vit(x)
    assert torch.equal(x, before)


def test_runs_on_the_device(device, gen):
    vit = VisionTransformer(8, 4, 2, 2, 8, 1, 2).to(device)
    out = vit(torch.randn(2, 2, 8, 8, generator=gen).to(device))
    assert out.device.type == device.type and out.shape == (2, 2)


@pytest.mark.parametrize("args, match", [
    ((12, 5, 2, 2, 16, 2, 2), "`img_size` must be divisible by `patch_size`"),
    ((12, 3, 2, 2, 16, 2, 3), "`embed_dim` must be divisible by `num_heads`"),
    ((12, 3, 2, 2, 16, 0, 2), "`depth` must be a positive int"),
    ((12, 3, 2, 2, 16, 2, 2, -1.0), "`mlp_ratio`"),
])
def test_bad_configuration(args, match):
    with pytest.raises(ValueError, match=match):
        VisionTransformer(*args)


def test_bad_inputs():
    vit = VisionTransformer(12, 3, 2, 2, 16, 1, 2)
    with pytest.raises(ValueError, match=r"channels C \(dim 1\).*2"):
        vit(torch.randn(1, 3, 12, 12))
    with pytest.raises(ValueError, match="`x` must be 12x12 images"):
        vit(torch.randn(1, 2, 9, 9))
    with pytest.raises(TypeError, match="`x` has dtype torch.float64"):
        vit(torch.randn(1, 2, 12, 12, dtype=torch.float64))
    with pytest.raises(TypeError, match="`need_weights` must be True or False"):
        vit.forward_features(torch.randn(1, 2, 12, 12), need_weights=1)
    with pytest.raises(ValueError, match=r"`maps` must be square"):
        attention_rollout(torch.rand(1, 1, 1, 2, 3))
    with pytest.raises(ValueError, match=r"\(depth, B, heads, L, L\)"):
        attention_rollout(torch.rand(1, 2, 3, 3))
