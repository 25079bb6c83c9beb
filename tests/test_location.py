import pytest
import torch

from attnlib import LocationAttention
from reference import ArticleAttn

SIZES = (32, 32, 32, 64, 64)  # the article's example call


def test_article_example_gives_the_articles_numbers_exactly(gen):
    torch.manual_seed(0)
    article = ArticleAttn(*SIZES)
    ours = LocationAttention(*SIZES)
    ours.load_state_dict(article.state_dict(), strict=True)
    Q = torch.randn(1, 1, 32, generator=gen)
    K = torch.randn(1, 1, 32, generator=gen)
    V = torch.randn(1, 32, 64, generator=gen)
    out_a, w_a = article(Q, K, V)
    out, w = ours(Q, K, V)
    assert out.shape == (1, 1, 64) and w.shape == (1, 1, 32)
    assert w_a.shape == (1, 32)
    assert torch.equal(out, out_a)
    assert torch.equal(w[0], w_a)


def test_state_dict_keys_are_the_articles():
    ours = LocationAttention(*SIZES).state_dict()
    assert list(ours) == list(ArticleAttn(*SIZES).state_dict())
    assert list(ours) == ["attn.weight", "attn.bias", "attn_combine.weight", "attn_combine.bias"]


@pytest.mark.parametrize("B,L", [(1, 1), (3, 1), (1, 4), (4, 5)])
def test_every_item_equals_the_article_run_alone(B, L, gen):
    torch.manual_seed(1)
    article = ArticleAttn(6, 5, 7, 3, 4)
    ours = LocationAttention(6, 5, 7, 3, 4)
    ours.load_state_dict(article.state_dict())
    Q = torch.randn(B, L, 6, generator=gen)
    K = torch.randn(B, L, 5, generator=gen)
    V = torch.randn(B, 7, 3, generator=gen)
    out, w = ours(Q, K, V)
    assert out.shape == (B, L, 4) and w.shape == (B, L, 7)
    for b in range(B):
        out_b, w_b = article(Q[b:b + 1], K[b:b + 1], V[b:b + 1])
        torch.testing.assert_close(out[b:b + 1], out_b)
        torch.testing.assert_close(w[b], w_b)


def test_weights_never_depend_on_the_rows_of_V(gen):
    torch.manual_seed(2)
    m = LocationAttention(4, 4, 6, 5, 3)
    Q, K = torch.randn(2, 3, 4, generator=gen), torch.randn(2, 3, 4, generator=gen)
    _, w1 = m(Q, K, torch.randn(2, 6, 5, generator=gen))
    _, w2 = m(Q, K, 100 * torch.randn(2, 6, 5, generator=gen))
    assert torch.equal(w1, w2)
    torch.testing.assert_close(w1.sum(-1), torch.ones(2, 3))


def test_float64_and_device(device, gen):
    m = LocationAttention(4, 4, 6, 5, 3).double().to(device)
    Q = torch.randn(2, 3, 4, generator=gen, dtype=torch.float64).to(device)
    K = torch.randn(2, 3, 4, generator=gen, dtype=torch.float64).to(device)
    V = torch.randn(2, 6, 5, generator=gen, dtype=torch.float64).to(device)
    out, w = m(Q, K, V)
    assert out.dtype == w.dtype == torch.float64 and out.device.type == device.type
    assert torch.autograd.gradcheck(lambda q, k, v: m(q, k, v)[0],
                                    (Q.requires_grad_(), K.requires_grad_(), V.requires_grad_()))


def test_inputs_are_not_modified(gen):
    m = LocationAttention(4, 4, 6, 5, 3)
    Q, K, V = (torch.randn(2, 3, 4, generator=gen), torch.randn(2, 3, 4, generator=gen),
               torch.randn(2, 6, 5, generator=gen))
    copies = [t.clone() for t in (Q, K, V)]
    m(Q, K, V)
    for before, after in zip(copies, (Q, K, V)):
        assert torch.equal(before, after)
