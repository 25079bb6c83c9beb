"""Transformer layers: equal to torch.nn.Transformer{Encoder,Decoder}Layer with copied weights.

torch's layers are the oracle (batch_first=True, eval mode).  Masks are translated:
ours are boolean with True = may attend, torch's boolean masks mean True = NOT
allowed, and its key padding masks are ``(B, S)`` with True at padding.  The torch
reference runs with gradients enabled, which keeps it off its fused inference path
(that path returns nested tensors with padded rows dropped).  Also: SelfAttention,
the Transformer encoder-decoder of the dates task, float64 gradcheck, bad arguments.
"""

import pytest
import torch
from torch import nn

import attnlib
from attnlib import SelfAttention, TransformerDecoderLayer, TransformerEncoderLayer
from attnlib.seq2seq import CharVocab, dates, exact_match, train
from attnlib.seq2seq.transformer import TransformerSeq2Seq, dates_transformer

B, L, S, E, H, F = 2, 5, 6, 8, 2, 16
TIGHT = dict(rtol=1e-10, atol=1e-10)


def randomize(module, seed):
    """Give every parameter (biases and norms included) random values, so all of them count."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * 0.5)
    return module


def pair(kind, norm_first, activation, seed=0):
    """(ours, torch's), float64, eval mode, weights copied with strict=True."""
    theirs_cls = nn.TransformerEncoderLayer if kind == "encoder" else nn.TransformerDecoderLayer
    ours_cls = TransformerEncoderLayer if kind == "encoder" else TransformerDecoderLayer
    args = dict(dim_feedforward=F, dropout=0.1, activation=activation, norm_first=norm_first)
    theirs = randomize(theirs_cls(E, H, batch_first=True, **args).double(), seed).eval()
    ours = ours_cls(E, H, **args).double().eval()
    result = ours.load_state_dict(theirs.state_dict(), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    return ours, theirs


def padding(lengths, n):
    keep = torch.arange(n)[None, :] < torch.tensor(lengths)[:, None]  # (B, n), True = real
    return keep


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("masks", ["none", "padding", "causal", "padding+causal", "is_causal"])
def test_encoder_layer_equals_torch(norm_first, activation, masks):
    ours, theirs = pair("encoder", norm_first, activation)
    x = torch.randn(B, L, E, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    keep = padding([L, 3], L)
    causal = attnlib.causal_mask(L, L)
    ours_kw, theirs_kw = {}, {}
    if "padding" in masks:
        ours_kw["mask"] = keep[:, None, :]  # (B, 1, L)
        theirs_kw["src_key_padding_mask"] = ~keep
    if masks in ("causal", "padding+causal"):
        ours_kw["mask"] = causal if masks == "causal" else keep[:, None, :] & causal
        theirs_kw["src_mask"] = ~causal
    if masks == "is_causal":
        ours_kw["is_causal"] = True
        theirs_kw.update(src_mask=nn.Transformer.generate_square_subsequent_mask(
            L, dtype=torch.float64), is_causal=True)
    expected = theirs(x, **theirs_kw)
    got = ours(x, **ours_kw)
    torch.testing.assert_close(got, expected, **TIGHT)
    assert got.shape == (B, L, E)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("masks", ["none", "padding+causal", "tgt_is_causal"])
def test_decoder_layer_equals_torch(norm_first, activation, masks):
    ours, theirs = pair("decoder", norm_first, activation, seed=2)
    gen = torch.Generator().manual_seed(3)
    tgt = torch.randn(B, L, E, dtype=torch.float64, generator=gen)
    memory = torch.randn(B, S, E, dtype=torch.float64, generator=gen)
    ours_kw, theirs_kw = {}, {}
    if masks == "padding+causal":
        keep_t, keep_m = padding([L, 2], L), padding([S, 4], S)
        causal = attnlib.causal_mask(L, L)
        ours_kw.update(tgt_mask=keep_t[:, None, :] & causal, memory_mask=keep_m[:, None, :])
        theirs_kw.update(tgt_mask=~causal, tgt_key_padding_mask=~keep_t,
                         memory_key_padding_mask=~keep_m)
    if masks == "tgt_is_causal":
        ours_kw["tgt_is_causal"] = True
        theirs_kw.update(tgt_mask=nn.Transformer.generate_square_subsequent_mask(
            L, dtype=torch.float64), tgt_is_causal=True)
    torch.testing.assert_close(ours(tgt, memory, **ours_kw), theirs(tgt, memory, **theirs_kw),
                               **TIGHT)


def test_weights_are_returned_and_match_forward():
    ours, _ = pair("decoder", True, "relu")
    gen = torch.Generator().manual_seed(4)
    tgt = torch.randn(B, L, E, dtype=torch.float64, generator=gen)
    memory = torch.randn(B, S, E, dtype=torch.float64, generator=gen)
    keep = padding([S, 3], S)[:, None, :]
    out, w_self, w_cross = ours.forward_with_weights(tgt, memory, None, keep, tgt_is_causal=True)
    torch.testing.assert_close(out, ours(tgt, memory, None, keep, tgt_is_causal=True), **TIGHT)
    assert w_self.shape == (B, H, L, L) and w_cross.shape == (B, H, L, S)
    assert torch.all(w_self.triu(1) == 0)  # causal: nothing above the diagonal
    assert torch.all(w_cross[1, :, :, 3:] == 0)  # padding gets no weight
    torch.testing.assert_close(w_cross.sum(-1), torch.ones(B, H, L, dtype=torch.float64))
    enc, _ = pair("encoder", False, "gelu")
    out, w = enc.forward_with_weights(tgt, is_causal=True)
    torch.testing.assert_close(out, enc(tgt, is_causal=True), **TIGHT)
    assert torch.all(w.triu(1) == 0)


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_gradcheck_float64(kind, norm_first):
    ours, _ = pair(kind, norm_first, "gelu", seed=5)
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(1, 3, E, dtype=torch.float64, generator=gen, requires_grad=True)
    if kind == "encoder":
        fn = lambda x: ours(x, padding([2], 3)[:, None, :], is_causal=True)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x,))
    else:
        x = x[:, :2].detach().requires_grad_()
        m = torch.randn(1, 3, E, dtype=torch.float64, generator=gen, requires_grad=True)
        keep = padding([2], 3)[:, None, :]
        assert torch.autograd.gradcheck(
            lambda x, m: ours(x, m, None, keep, tgt_is_causal=True), (x, m))


def test_dropout_only_in_training_and_inputs_unchanged():
    ours, _ = pair("encoder", False, "relu")
    x = torch.randn(B, L, E, dtype=torch.float64)
    before = x.clone()
    torch.testing.assert_close(ours(x), ours(x), **TIGHT)  # eval: deterministic
    ours.train()
    torch.manual_seed(0)
    a = ours(x)
    torch.manual_seed(1)
    assert not torch.allclose(a, ours(x))  # dropout 0.1 is active in training mode
    assert torch.equal(x, before)


@pytest.mark.parametrize("kwargs,error,words", [
    (dict(d_model=10, nhead=3), ValueError, "`d_model` must be divisible by `nhead`"),
    (dict(d_model=8, nhead=2, activation="tanh"), ValueError, "`activation` must be 'relu' or 'gelu'"),
    (dict(d_model=8, nhead=2, dropout=1.5), ValueError, "`dropout`"),
    (dict(d_model=8, nhead=0), ValueError, "`nhead` must be a positive int"),
    (dict(d_model=8, nhead=2, norm_first=1), TypeError, "`norm_first` must be True or False"),
    (dict(d_model=6, nhead=2, rotary=True), ValueError, "even head size"),
])
@pytest.mark.parametrize("cls", [TransformerEncoderLayer, TransformerDecoderLayer])
def test_bad_arguments(cls, kwargs, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        cls(**kwargs)


def test_bad_inputs():
    enc, dec = TransformerEncoderLayer(8, 2), TransformerDecoderLayer(8, 2)
    with pytest.raises(ValueError, match=r"`src` must have last dim E \(d_model\) = 8"):
        enc(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match=r"`src` must be 3-D"):
        enc(torch.randn(3, 8))
    with pytest.raises(TypeError, match="boolean"):
        enc(torch.randn(2, 3, 8), torch.ones(3, 3))
    with pytest.raises(ValueError, match="`memory` must have the same batch size"):
        dec(torch.randn(2, 3, 8), torch.randn(3, 4, 8))
    with pytest.raises(TypeError, match="`is_causal` must be True or False"):
        enc(torch.randn(2, 3, 8), is_causal="yes")


# ----------------------------------------------------------------------- SelfAttention

def test_self_attention_written_out():
    torch.manual_seed(0)
    sa = SelfAttention(8, 4, 6).double()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    q, k, v = x @ sa.w_q.weight.T, x @ sa.w_k.weight.T, x @ sa.w_v.weight.T
    w = torch.softmax(q @ k.transpose(1, 2) / 2.0, dim=-1)  # sqrt(E_k) = 2
    out, weights = sa(x)
    torch.testing.assert_close(weights, w, **TIGHT)
    torch.testing.assert_close(out, w @ v, **TIGHT)
    out, weights = sa(x, is_causal=True)
    assert out.shape == (2, 5, 6) and torch.all(weights.triu(1) == 0)
    assert torch.autograd.gradcheck(lambda x: sa(x)[0], (x[:1, :3].requires_grad_(),))


def test_self_attention_dropout():
    sa = SelfAttention(8, dropout=0.5).train()
    x = torch.randn(2, 5, 8)
    torch.manual_seed(0)
    _, w = sa(x)
    assert (w == 0).any()  # dropped weights
    assert set(torch.unique((w * 0.5)[w > 0] > 0).tolist()) == {True}
    sa.eval()
    _, w = sa(x)
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 5))
    with pytest.raises(ValueError, match=r"`x` must have last dim E \(embed_dim\) = 8"):
        sa(torch.randn(2, 5, 4))


# ----------------------------------------------------------------------- the seq2seq model

@pytest.mark.parametrize("positions", ["sinusoidal", "rotary"])
def test_seq2seq_transformer_interface(positions):
    model = dates_transformer(seed=0, d_model=16, nhead=2, dim_feedforward=32,
                              num_encoder_layers=1, num_decoder_layers=1, positions=positions)
    texts = ["23 Nov 2026", "Monday, the 23rd of November 2026"]
    src, lengths = model.source_vocab.batch(texts)
    ids, weights = model.greedy(src, lengths, max_len=11)
    assert ids.shape == (2, 11) and weights.shape == (2, 11, src.shape[1])
    fed_back = torch.cat((torch.full((2, 1), CharVocab.sos), ids[:, :-1]), dim=1)
    with torch.no_grad():
        logits, w = model(src, lengths, fed_back)
    assert torch.equal(logits.argmax(-1), ids)  # greedy == teacher forcing on its outputs
    torch.testing.assert_close(w, weights)
    assert torch.all(weights[0, :, len(texts[0]):] == 0)  # padding gets no weight
    # a padded batch gives the same answer as the input alone
    alone, _ = model.translate(texts[:1], max_len=11)
    together, _ = model.translate(texts, max_len=11)
    assert alone[0] == together[0]


def test_seq2seq_transformer_trains_with_the_shared_loop():
    splits = dates.make_splits(0, n_train=128, n_val=8, n_test=16, n_long=8)
    model = dates_transformer(seed=0, d_model=16, nhead=2, dim_feedforward=32,
                              num_encoder_layers=1, num_decoder_layers=1)
    run = train(model, splits["train"], epochs=2, batch_size=32, seed=0, progress=False)
    assert run.steps == 8 and run.losses[-1] < run.losses[0]
    assert 0.0 <= exact_match(model, splits["test"]) <= 1.0
    assert not model.training


def test_seq2seq_transformer_errors():
    vocab = CharVocab(dates.SOURCE_CHARS)
    with pytest.raises(ValueError, match="`positions` must be one of 'sinusoidal', 'rotary'"):
        TransformerSeq2Seq(vocab, vocab, positions="learned")
    with pytest.raises(TypeError, match="`source_vocab` must be an attnlib.seq2seq.CharVocab"):
        TransformerSeq2Seq("abc", vocab)
    model = TransformerSeq2Seq(vocab, vocab, d_model=8, nhead=2, max_len=5)
    src, lengths = vocab.batch(["23 Nov 2026"])
    with pytest.raises(ValueError, match="`source` has 11 positions but the model was built "
                                         "with max_len=5"):
        model.encode(src, lengths)
