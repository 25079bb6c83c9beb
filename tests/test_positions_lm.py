"""PositionsLM (a decoder with a choice of positions) and the dates task for a decoder."""

import pytest
import torch

from attnlib import TransformerLM
from attnlib.alibi import alibi_bias
from attnlib.biased import biased_attention
from attnlib.dot_product import causal_mask
from attnlib.positions_lm import POSITIONS, PositionsLM
from attnlib.rope_scaling import rope_frequencies
from attnlib.seq2seq import dates
from attnlib.seq2seq.dates_lm import encode, exact_match, lm_vocab, train_lm

V, E, H = 20, 16, 2


def model(positions, seed=0, **kw):
    torch.manual_seed(seed)
    return PositionsLM(V, E, H, 2, positions=positions, max_len=32, **kw).eval()


def test_learned_positions_equal_transformer_lm():
    ours = model("learned")
    torch.manual_seed(0)
    theirs = TransformerLM(V, E, H, 2, max_len=32).eval()
    theirs.load_state_dict(ours.state_dict())
    idx = torch.randint(0, V, (3, 11))
    torch.testing.assert_close(ours(idx), theirs(idx), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("positions", POSITIONS)
def test_causal_and_shapes(positions):
    m = model(positions)
    idx = torch.randint(0, V, (2, 9))
    logits = m(idx)
    assert logits.shape == (2, 9, V)
    changed = idx.clone()
    changed[:, 6:] = (changed[:, 6:] + 1) % V  # later tokens never change earlier logits
    torch.testing.assert_close(m(changed)[:, :6], logits[:, :6])
    assert m.generate(idx[:, :3], 4).shape == (2, 7)
    assert f"positions={positions!r}" in repr(m)


def test_none_and_rotary_have_no_position_table():
    for positions in ("none", "rotary", "alibi"):
        assert model(positions).position_embedding is None
    assert model("learned").position_embedding.weight.shape == (32, E)


def test_alibi_layer_equals_the_dense_path():
    m = model("alibi")
    layer, x = m.layers[0], torch.randn(2, 7, E)
    mha = layer.self_attn
    q, k, v = (mha._split_heads(t) for t in torch.nn.functional.linear(
        layer.norm1(x), mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1))
    heads, _ = biased_attention(q, k, v, causal_mask(7, 7), bias=alibi_bias(H, 7))
    y = x + mha.out_proj(mha._merge_heads(heads))
    expected = y + layer._ff_block(layer.norm2(y))
    torch.testing.assert_close(m._attend(layer, x), expected, rtol=1e-5, atol=1e-5)


def test_set_rope_changes_the_frequencies():
    m = model("rotary")
    idx = torch.randint(0, V, (1, 10))
    before = m(idx)
    inv, s = rope_frequencies(E // H, method="yarn", factor=2.0, original_max_position=8)
    m.set_rope(inv, s)
    assert m.attention_scaling == s and torch.equal(m.inv_freq, inv)
    assert not torch.allclose(m(idx), before)
    m.set_rope(*rope_frequencies(E // H))
    torch.testing.assert_close(m(idx), before)


def test_errors():
    with pytest.raises(ValueError, match="positions"):
        model("relative")
    with pytest.raises(ValueError, match="set_rope"):
        model("none").set_rope(torch.ones(4))
    with pytest.raises(ValueError, match="inv_freq"):
        model("rotary").set_rope(torch.ones(3))
    with pytest.raises(NotImplementedError, match="KV cache"):
        model("alibi").generate(torch.zeros(1, 2, dtype=torch.long), 2, use_cache=True)
    with pytest.raises(ValueError, match="max_len"):
        model("none")(torch.zeros(1, 40, dtype=torch.long))


def test_encode_labels_only_the_target():
    vocab = lm_vocab()
    inputs, labels = encode([("1 May 2001", "2001-05-01"), ("1.5.2001", "2001-05-01")], vocab)
    assert vocab.decode(inputs[0, 1:]) == "1 May 2001=2001-05-01"  # the label after it: <eos>
    scored = labels[0] != vocab.pad
    assert vocab.decode(labels[0][scored]) == "2001-05-01"  # then <eos>
    assert labels[0][scored][-1] == vocab.eos and scored.sum() == 11
    assert (labels[1] != vocab.pad).sum() == 11


class Oracle(torch.nn.Module):
    """Predicts every label right, except for the pairs in `wrong`."""

    def __init__(self, pairs, wrong=()):
        super().__init__()
        self.answers = {}
        inputs, labels = encode(pairs, lm_vocab())
        for n, (x, y) in enumerate(zip(inputs, labels)):
            y = y.clone()
            if n in wrong:
                y[(y != 0).nonzero()[3]] = 5  # one target character wrong
            self.answers[tuple(x[x > 2].tolist())] = y  # the key: no <pad>, <sos>, <eos>

    def forward(self, inputs):
        out = torch.zeros(*inputs.shape, len(lm_vocab()))
        for n, x in enumerate(inputs):
            y = self.answers[tuple(x[x > 2].tolist())]
            y = y[:inputs.shape[1]]  # this batch may be narrower
            out[n, torch.arange(len(y)), y] = 1.0
        return out


def test_exact_match_is_teacher_forced_argmax():
    pairs = dates.make_splits(0, n_train=20, n_val=1, n_test=1, n_long=1)["train"]
    assert exact_match(Oracle(pairs), pairs, batch_size=7).all()
    right = exact_match(Oracle(pairs, wrong={2, 11}), pairs, batch_size=7)
    assert right.tolist() == [n not in (2, 11) for n in range(20)]


def test_train_lm_lowers_the_loss():
    pairs = dates.make_splits(0, n_train=200, n_val=1, n_test=1, n_long=1)["train"]
    torch.manual_seed(0)
    m = PositionsLM(len(lm_vocab()), 16, 2, 1, positions="rotary", max_len=40)
    run = train_lm(m, pairs, steps=40, batch_size=32, lr=1e-2)
    assert run.steps == 40 and len(run.losses) == 40 and not m.training
    assert sum(run.losses[-5:]) / 5 < 0.7 * sum(run.losses[:5]) / 5
