"""A small Transformer encoder-decoder for the character-level tasks (the dates task).

It has the GRU model's interface (:class:`~attnlib.seq2seq.gru.Seq2Seq`):
``forward(source, source_lengths, target_in) -> (logits, weights)``,
``greedy``, ``translate``, ``source_vocab`` and ``target_vocab``, so
:func:`~attnlib.seq2seq.training.train` and
:func:`~attnlib.seq2seq.training.exact_match` work on it unchanged.

.. math::

    m &= \\text{Encoder}(\\text{embed}(x) + P_x)   &\\text{(memory, (B, S, E))}\\\\
    z &= \\text{Decoder}(\\text{embed}(y_{<t}) + P_y, m) &\\text{(causal self-, cross-attention)}\\\\
    p(y_t) &= \\operatorname{softmax}(W_o z_t + b_o)

The embeddings are not scaled by ``sqrt(E)``: their ``N(0, 1)`` entries are
already as large as the table's.  ``positions`` picks how order gets in:
``"sinusoidal"`` adds the table of :func:`attnlib.sinusoidal_positional_encoding`
(``P`` above, counted from position 0) to the embeddings;
``"rotary"`` adds nothing and rotates queries and keys in every self-attention
instead (:func:`attnlib.apply_rotary`).  The layers are pre-LN
(:class:`attnlib.TransformerEncoderLayer` with ``norm_first=True``), with a final
layer norm after each stack, as ``torch.nn.Transformer`` has.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import _checks
from ..positional import sinusoidal_positional_encoding
from ..transformer import TransformerDecoderLayer, TransformerEncoderLayer
from . import dates
from .vocab import CharVocab, Translates, check_source

POSITIONS = ("sinusoidal", "rotary")
"""The valid values of ``positions``."""


class TransformerSeq2Seq(Translates, nn.Module):
    """Transformer encoder-decoder over characters.

    Args:
        source_vocab, target_vocab: :class:`CharVocab` of the inputs and outputs.
        d_model: ``E``, the feature size everywhere.
        nhead: ``H``, heads per attention.
        num_encoder_layers, num_decoder_layers: layers in each stack.
        dim_feedforward: hidden size of the feed-forward networks.
        dropout: the layers' dropout (training mode only).
        positions: ``"sinusoidal"`` or ``"rotary"``.
        max_len: the longest source or target (``"sinusoidal"`` tables have this
            many rows); longer inputs are an error.

    Shapes:
        - source: ``(B, S)`` int64 ids, right-padded; source_lengths: ``(B,)``
        - target_in: ``(B, L)`` int64 ids starting with ``<sos>``
        - memory: ``(B, S, E)``
        - logits: ``(B, L, V)`` (``V`` = ``len(target_vocab)``)
        - weights: ``(B, L, S)``, the last decoder layer's cross-attention
          averaged over its heads
    """

    def __init__(self, source_vocab: CharVocab, target_vocab: CharVocab, *, d_model: int = 64,
                 nhead: int = 4, num_encoder_layers: int = 2, num_decoder_layers: int = 2,
                 dim_feedforward: int = 128, dropout: float = 0.0,
                 positions: str = "sinusoidal", max_len: int = 64):
        super().__init__()
        for name, vocab in [("source_vocab", source_vocab), ("target_vocab", target_vocab)]:
            if not isinstance(vocab, CharVocab):
                raise TypeError(f"`{name}` must be an attnlib.seq2seq.CharVocab; "
                                f"got {type(vocab).__name__}")
        if positions not in POSITIONS:
            raise ValueError(f"`positions` must be one of {', '.join(map(repr, POSITIONS))}; "
                             f"got {positions!r}")
        _checks.positive_int(num_encoder_layers, "num_encoder_layers")
        _checks.positive_int(num_decoder_layers, "num_decoder_layers")
        _checks.positive_int(max_len, "max_len")
        self.source_vocab, self.target_vocab = source_vocab, target_vocab
        self.d_model, self.positions, self.max_len = d_model, positions, max_len
        self.rule = f"transformer ({positions})"  # the label train's progress bar shows
        layer = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward,
                     dropout=dropout, norm_first=True, rotary=positions == "rotary")
        self.encoder_layers = nn.ModuleList(
            TransformerEncoderLayer(**layer) for _ in range(num_encoder_layers))
        self.decoder_layers = nn.ModuleList(
            TransformerDecoderLayer(**layer) for _ in range(num_decoder_layers))
        self.encoder_norm, self.decoder_norm = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.source_embedding = nn.Embedding(len(source_vocab), d_model,
                                             padding_idx=CharVocab.pad)
        self.target_embedding = nn.Embedding(len(target_vocab), d_model,
                                             padding_idx=CharVocab.pad)
        self.out = nn.Linear(d_model, len(target_vocab))
        if positions == "sinusoidal":
            self.register_buffer("pe", sinusoidal_positional_encoding(max_len, d_model),
                                 persistent=False)

    def _embed(self, ids: torch.Tensor, embedding: nn.Embedding, name: str) -> torch.Tensor:
        """``(B, N)`` ids -> ``(B, N, E)``: embeddings, plus the sinusoidal table if used."""
        if ids.shape[1] > self.max_len:
            raise ValueError(f"`{name}` has {ids.shape[1]} positions but the model was built "
                             f"with max_len={self.max_len}")
        x = embedding(ids)  # (B, N) -> (B, N, E); N(0, 1) entries, as large as P's
        if self.positions == "sinusoidal":
            x = x + self.pe[: ids.shape[1]].to(x.dtype)  # (N, E) broadcast over B
        return x

    def encode(self, source: torch.Tensor, source_lengths: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(memory (B, S, E), mask (B, S))``, ``mask`` ``True`` at real characters."""
        check_source(source, source_lengths)
        S = source.shape[1]
        mask = torch.arange(S, device=source.device) < source_lengths.to(source.device)[:, None]
        x = self._embed(source, self.source_embedding, "source")
        key_mask = mask[:, None, :]  # (B, S) -> (B, 1, S): padding is never a key
        for layer in self.encoder_layers:
            x = layer(x, key_mask)
        return self.encoder_norm(x), mask

    def decode(self, target_in: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, L)`` ids, memory ``(B, S, E)``, mask ``(B, S)`` -> ``(logits, weights)``."""
        y = self._embed(target_in, self.target_embedding, "target_in")
        weights = None
        for i, layer in enumerate(self.decoder_layers):
            if i == len(self.decoder_layers) - 1:
                y, _, weights = layer.forward_with_weights(y, memory, None, mask[:, None, :],
                                                           tgt_is_causal=True)
            else:
                y = layer(y, memory, None, mask[:, None, :], tgt_is_causal=True)
        return self.out(self.decoder_norm(y)), weights.mean(dim=1)  # (B, H, L, S) -> (B, L, S)

    def forward(self, source: torch.Tensor, source_lengths: torch.Tensor, target_in: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing: ``(logits (B, L, V), weights (B, L, S))`` for every position at once."""
        _checks.tensor(target_in, "target_in")
        if target_in.dtype != torch.long:
            raise TypeError(f"`target_in` must be int64 ids; got {target_in.dtype}")
        _checks.rank(target_in, "target_in", "(B, L)", exact=2)
        memory, mask = self.encode(source, source_lengths)
        _checks.dim_equal(source, "source", 0, target_in, "target_in", 0, "batch size B (dim 0)")
        return self.decode(target_in, memory, mask)

    @torch.no_grad()
    def greedy(self, source: torch.Tensor, source_lengths: torch.Tensor, max_len: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Greedy decoding: feed back the most likely id, one position at a time.

        Every step reruns the decoder over the outputs so far (no cache; the
        outputs here are short).  Returns ``(ids (B, max_len), weights (B, max_len, S))``.
        """
        _checks.positive_int(max_len, "max_len")
        memory, mask = self.encode(source, source_lengths)
        B = source.shape[0]
        y = torch.full((B, 1), CharVocab.sos, dtype=torch.long, device=source.device)
        for _ in range(max_len):
            logits, weights = self.decode(y, memory, mask)
            y = torch.cat((y, logits[:, -1:].argmax(dim=-1)), dim=1)  # (B, t) -> (B, t + 1)
        return y[:, 1:], weights

    def extra_repr(self) -> str:
        return f"positions={self.positions!r}, max_len={self.max_len}"


def dates_transformer(*, seed: int = 0, **kwargs) -> TransformerSeq2Seq:
    """A :class:`TransformerSeq2Seq` for :mod:`attnlib.dates`, initialised from ``seed``.

    ``kwargs`` go to the constructor.  A private generator state is used: the
    global torch seed is left as it was.
    """
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"`seed` must be an int; got {type(seed).__name__} {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return TransformerSeq2Seq(CharVocab(dates.SOURCE_CHARS), CharVocab(dates.TARGET_CHARS),
                                  **kwargs)
