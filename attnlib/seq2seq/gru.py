"""A small GRU encoder-decoder whose decoder attention is one of the three rules, or none.

The model translates character strings to character strings (the course uses
it on :mod:`attnlib.dates`).  It is the "attention after the decoder RNN" form
of Luong et al. (2015), without input feeding:

.. math::

    h_1..h_S &= \\text{BiGRU}(\\text{embed}(x_1..x_S))          &\\text{(encoder)}\\\\
    s_t &= \\text{GRU}(s_{t-1}, \\text{embed}(y_{t-1}))          &\\text{(decoder state)}\\\\
    \\alpha_t &= \\text{rule}(s_t, h_1..h_S), \\quad c_t = \\textstyle\\sum_j \\alpha_{tj} h_j
                                                              &\\text{(attention)}\\\\
    \\tilde s_t &= \\tanh(W_c [s_t; c_t] + b_c), \\quad
    p(y_t) = \\operatorname{softmax}(W_o \\tilde s_t + b_o)    &\\text{(output)}

Because the attention comes *after* the GRU, with teacher forcing the decoder
GRU runs over the whole target in one call and the attention is computed for
all ``L`` target positions at once; greedy decoding runs the same layers one
step at a time and gives the same numbers.

The ``rule`` argument picks the attention:

``"location"``
    rule 1, :class:`attnlib.LocationAttention`: ``Q`` = the decoder states
    ``s_t``, ``K`` = the embedded previous outputs, ``V`` = the encoder outputs
    padded (with zero rows) or cut to exactly ``max_source_len`` rows.  Its
    weights come from ``[s_t; embed(y_{t-1})]`` alone; they never see the
    encoder outputs, and there are always ``max_source_len`` of them, so input
    characters past ``max_source_len`` cannot be attended to at all (the
    encoder still reads them, and its final state starts the decoder).  Its own
    ``attn_combine`` layer is ``W_c``.
``"additive"``
    rule 2, :class:`attnlib.AdditiveAttention` with query ``s_t`` and keys =
    values = the encoder outputs; padded positions are masked.
``"dot"``
    rule 3, :func:`attnlib.scaled_dot_product_attention` with the same
    query, keys and values; padded positions are masked.
``"none"``
    no attention: ``tilde s_t = tanh(W_c s_t + b_c)``.  Everything the decoder
    knows about the input is the encoder's final state, a fixed-size vector.

With ``encoder_self_attention=True`` the encoder adds one residual layer of
rule-3 self-attention over its GRU outputs (attention on the encoder side: a
representation step, ``Q = K = V`` = the encoder's own states).

``python -m attnlib.seq2seq --rule additive`` trains one variant on the dates
task and prints its accuracies; ``--help`` lists the options.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .. import _checks
from ..additive import AdditiveAttention
from ..dot_product import scaled_dot_product_attention
from ..location import LocationAttention
from .vocab import CharVocab, Translates, check_source

RULES = ("location", "additive", "dot", "none")
"""The valid values of ``rule``: rule 1, rule 2, rule 3, no attention."""


def check_rule(rule) -> str:
    """Return ``rule`` if it is one of :data:`RULES`, else raise a helpful error."""
    if not isinstance(rule, str):
        raise TypeError(f"`rule` must be a str, one of {', '.join(map(repr, RULES))}; "
                        f"got {type(rule).__name__} {rule!r}")
    if rule not in RULES:
        raise ValueError(f"`rule` must be one of {', '.join(map(repr, RULES))} (rule 1, rule 2, "
                         f"rule 3, no attention); got {rule!r}")
    return rule


class Seq2Seq(Translates, nn.Module):
    """Bidirectional-GRU encoder, GRU decoder, and the decoder attention ``rule``.

    Args:
        source_vocab, target_vocab: :class:`CharVocab` of the inputs and outputs.
        rule: one of :data:`RULES`: ``"location"`` (rule 1), ``"additive"``
            (rule 2), ``"dot"`` (rule 3) or ``"none"``.
        max_source_len: rule 1's ``value_size1``, the number of input positions
            it can weight; required for ``"location"``, refused for the others.
        embed_size: ``E``, the size of the character embeddings.
        hidden_size: ``H``, the size of the encoder outputs (``H/2`` per
            direction, so it must be even) and of the decoder state.
        encoder_self_attention: add one residual layer of rule-3 self-attention
            on top of the encoder GRU.

    Shapes:
        - source: ``(B, S)`` int64 ids, right-padded; source_lengths: ``(B,)``
        - target_in: ``(B, L)`` int64 ids starting with ``<sos>``
        - encoder outputs: ``(B, S, H)``
        - logits: ``(B, L, V)`` (``V`` = ``len(target_vocab)``)
        - weights: ``(B, L, S)`` for rules 2 and 3, ``(B, L, max_source_len)``
          for rule 1, ``None`` without attention
    """

    def __init__(self, source_vocab: CharVocab, target_vocab: CharVocab, *, rule: str,
                 max_source_len: int | None = None, embed_size: int = 32, hidden_size: int = 64,
                 encoder_self_attention: bool = False):
        super().__init__()
        for name, vocab in [("source_vocab", source_vocab), ("target_vocab", target_vocab)]:
            if not isinstance(vocab, CharVocab):
                raise TypeError(f"`{name}` must be an attnlib.seq2seq.CharVocab; "
                                f"got {type(vocab).__name__}")
        check_rule(rule)
        _checks.positive_int(embed_size, "embed_size")
        _checks.positive_int(hidden_size, "hidden_size")
        if hidden_size % 2:
            raise ValueError(f"`hidden_size` must be even (the encoder has hidden_size / 2 per "
                             f"direction); got {hidden_size}")
        _checks.boolean(encoder_self_attention, "encoder_self_attention")
        if encoder_self_attention and rule == "none":
            raise ValueError("`encoder_self_attention` has no effect with rule 'none': without "
                             "attention the decoder sees only the encoder GRU's final state; "
                             "use it with 'location', 'additive' or 'dot'")
        if rule == "location":
            if max_source_len is None:
                raise ValueError("rule 'location' needs `max_source_len` (its value_size1: how "
                                 "many input positions it can weight), e.g. the longest "
                                 "training input")
            _checks.positive_int(max_source_len, "max_source_len")
        elif max_source_len is not None:
            raise ValueError(f"`max_source_len` is only used by rule 'location'; got "
                             f"max_source_len={max_source_len!r} with rule {rule!r}")
        self.source_vocab, self.target_vocab = source_vocab, target_vocab
        self.rule, self.max_source_len = rule, max_source_len
        self.embed_size, self.hidden_size = embed_size, hidden_size
        self.encoder_self_attention = encoder_self_attention
        H, E = hidden_size, embed_size

        self.source_embedding = nn.Embedding(len(source_vocab), E, padding_idx=CharVocab.pad)
        self.encoder = nn.GRU(E, H // 2, batch_first=True, bidirectional=True)
        if encoder_self_attention:
            self.self_query, self.self_key, self.self_value = (nn.Linear(H, H) for _ in range(3))
            self.self_out = nn.Linear(H, H)
            self.self_norm = nn.LayerNorm(H)
        self.target_embedding = nn.Embedding(len(target_vocab), E, padding_idx=CharVocab.pad)
        self.decoder = nn.GRU(E, H, batch_first=True)
        if rule == "location":
            # rule 1 with the article's recipe: its attn_combine is W_c
            self.attention = LocationAttention(H, E, max_source_len, H, H)
        elif rule == "additive":
            self.attention = AdditiveAttention(H, H, H)
        if rule in ("additive", "dot"):
            self.combine = nn.Linear(2 * H, H)  # steps 2 and 3 of the article's recipe: W_c
        elif rule == "none":
            self.combine = nn.Linear(H, H)
        self.out = nn.Linear(H, len(target_vocab))

    # ------------------------------------------------------------------ encoder
    def encode(self, source: torch.Tensor, source_lengths: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Run the encoder.

        Returns:
            ``(outputs, final, mask, self_weights)``: ``outputs`` ``(B, S, H)``
            with zero rows at padded positions, ``final`` ``(B, H)`` (the last
            state of each direction, concatenated), ``mask`` ``(B, S)`` with
            ``True`` at real characters, and the self-attention weights
            ``(B, S, S)`` or ``None``.
        """
        check_source(source, source_lengths)
        S = source.shape[1]
        mask = torch.arange(S, device=source.device) < source_lengths.to(source.device)[:, None]
        embedded = self.source_embedding(source)  # (B, S) -> (B, S, E)
        packed = pack_padded_sequence(embedded, source_lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        packed_out, final = self.encoder(packed)  # final: (2, B, H/2)
        outputs, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=S)  # (B, S, H)
        final = torch.cat((final[0], final[1]), dim=-1)  # (2, B, H/2) -> (B, H)
        self_weights = None
        if self.encoder_self_attention:
            q, k, v = self.self_query(outputs), self.self_key(outputs), self.self_value(outputs)
            attended, self_weights = scaled_dot_product_attention(
                q, k, v, mask[:, None, :])  # keys: (B, 1, S) -> (B, S, S)
            outputs = self.self_norm(outputs + self.self_out(attended))  # (B, S, H)
            outputs = outputs * mask[..., None]  # padded rows back to zero
        return outputs, final, mask, self_weights

    # ------------------------------------------------------------------ decoder
    def _attend(self, states: torch.Tensor, embedded: torch.Tensor, memory: torch.Tensor,
                mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``states`` (B, L, H), ``embedded`` (B, L, E), ``memory`` (B, S, H), ``mask`` (B, S)
        -> ``(tilde_s (B, L, H), weights)``."""
        if self.rule == "none":
            return torch.tanh(self.combine(states)), None
        if self.rule == "location":
            V = _fit_length(memory, self.max_source_len)  # (B, S, H) -> (B, max_source_len, H)
            combined, weights = self.attention(states, embedded, V)  # (B, L, H), (B, L, S_max)
            return torch.tanh(combined), weights
        key_mask = mask[:, None, :]  # (B, S) -> (B, 1, S), broadcast over the L queries
        if self.rule == "additive":
            context, weights = self.attention(states, memory, memory, key_mask)
        else:
            context, weights = scaled_dot_product_attention(states, memory, memory, key_mask)
        combined = self.combine(torch.cat((states, context), dim=-1))  # (B, L, 2H) -> (B, L, H)
        return torch.tanh(combined), weights

    def forward(self, source: torch.Tensor, source_lengths: torch.Tensor, target_in: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Teacher forcing: the logits of every target position at once.

        ``target_in`` is the target shifted right (``<sos>`` first).  Returns
        ``(logits (B, L, V), weights)``; see the class docstring.
        """
        _checks.tensor(target_in, "target_in")
        if target_in.dtype != torch.long:
            raise TypeError(f"`target_in` must be int64 ids; got {target_in.dtype}")
        _checks.rank(target_in, "target_in", "(B, L)", exact=2)
        memory, final, mask, _ = self.encode(source, source_lengths)
        _checks.dim_equal(source, "source", 0, target_in, "target_in", 0, "batch size B (dim 0)")
        embedded = self.target_embedding(target_in)  # (B, L) -> (B, L, E)
        states, _ = self.decoder(embedded, final[None].contiguous())  # (B, L, H)
        tilde, weights = self._attend(states, embedded, memory, mask)
        return self.out(tilde), weights  # (B, L, H) -> (B, L, V)

    @torch.no_grad()
    def greedy(self, source: torch.Tensor, source_lengths: torch.Tensor, max_len: int
               ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Greedy decoding, one step at a time, feeding back the most likely id.

        Returns ``(ids (B, max_len), weights (B, max_len, S or max_source_len) or None)``.
        Positions after a sequence's ``<eos>`` hold whatever the model produced
        there; :meth:`CharVocab.decode` stops at the first ``<eos>``.
        """
        _checks.positive_int(max_len, "max_len")
        memory, final, mask, _ = self.encode(source, source_lengths)
        B = source.shape[0]
        y = torch.full((B, 1), CharVocab.sos, dtype=torch.long, device=source.device)
        hidden = final[None].contiguous()  # (1, B, H)
        ids, all_weights = [], []
        for _ in range(max_len):
            embedded = self.target_embedding(y)  # (B, 1, E)
            state, hidden = self.decoder(embedded, hidden)  # (B, 1, H)
            tilde, weights = self._attend(state, embedded, memory, mask)
            y = self.out(tilde).argmax(dim=-1)  # (B, 1, V) -> (B, 1)
            ids.append(y)
            if weights is not None:
                all_weights.append(weights)
        ids = torch.cat(ids, dim=1)  # (B, max_len)
        return ids, (torch.cat(all_weights, dim=1) if all_weights else None)

    def extra_repr(self) -> str:
        extra = f", max_source_len={self.max_source_len}" if self.rule == "location" else ""
        return (f"rule={self.rule!r}{extra}, embed_size={self.embed_size}, "
                f"hidden_size={self.hidden_size}, "
                f"encoder_self_attention={self.encoder_self_attention}")


def _fit_length(memory: torch.Tensor, n: int) -> torch.Tensor:
    """Pad ``memory`` (B, S, H) with zero rows, or cut it, to exactly ``n`` rows."""
    S = memory.shape[1]
    if S >= n:
        return memory[:, :n]  # rule 1 cannot weight positions n, n+1, ...
    return F.pad(memory, (0, 0, 0, n - S))  # (B, S, H) -> (B, n, H)
