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

import argparse
import math
import sys
import time
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from . import _checks
from .additive import AdditiveAttention
from .dot_product import scaled_dot_product_attention
from .location import LocationAttention

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


class CharVocab:
    """Characters <-> integer ids, with ids 0, 1, 2 for padding, start and end.

    Args:
        chars: every character the strings may contain (duplicates are an error).

    Attributes:
        pad, sos, eos: the ids 0, 1, 2 of ``<pad>``, ``<sos>`` and ``<eos>``.
        itos: the list of tokens, index = id.
    """

    pad, sos, eos = 0, 1, 2
    specials = ("<pad>", "<sos>", "<eos>")

    def __init__(self, chars: str):
        if not isinstance(chars, str) or not chars:
            raise TypeError(f"`chars` must be a non-empty str; "
                            f"got {type(chars).__name__} {chars!r}")
        if len(set(chars)) != len(chars):
            repeated = sorted({c for c in chars if chars.count(c) > 1})
            raise ValueError(f"`chars` must not repeat a character; got {repeated} more than once")
        self.itos = [*self.specials, *chars]
        self.stoi = {c: i for i, c in enumerate(self.itos) if i >= len(self.specials)}

    def __len__(self) -> int:
        return len(self.itos)

    def __repr__(self) -> str:
        return f"CharVocab({''.join(self.itos[3:])!r})"

    def encode(self, text: str, *, eos: bool = False) -> list[int]:
        """The ids of ``text``'s characters (then ``eos`` if asked)."""
        if not isinstance(text, str):
            raise TypeError(f"`text` must be a str; got {type(text).__name__} {text!r}")
        unknown = sorted({c for c in text if c not in self.stoi})
        if unknown:
            raise ValueError(f"`text` has characters outside the vocabulary: {unknown} in "
                             f"{text!r}; the vocabulary is {''.join(self.itos[3:])!r}")
        return [self.stoi[c] for c in text] + ([self.eos] if eos else [])

    def decode(self, ids: Sequence[int]) -> str:
        """The string of ``ids``, up to the first ``<eos>``; ``<pad>`` and ``<sos>`` are skipped."""
        out = []
        for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
            if i == self.eos:
                break
            if i >= len(self.specials):
                out.append(self.itos[i])
        return "".join(out)

    def batch(self, texts: Sequence[str], *, eos: bool = False, device=None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode and right-pad a list of strings.

        Returns:
            ``(ids, lengths)``: ``ids`` is ``(B, S)`` int64 padded with ``pad``,
            ``lengths`` is ``(B,)`` int64 (on the CPU, as ``pack_padded_sequence``
            wants).
        """
        if isinstance(texts, str) or not isinstance(texts, Sequence) or len(texts) == 0:
            raise TypeError(f"`texts` must be a non-empty list of str; got {type(texts).__name__}")
        encoded = [self.encode(t, eos=eos) for t in texts]
        lengths = torch.tensor([len(e) for e in encoded], dtype=torch.long)
        if int(lengths.min()) == 0:
            raise ValueError("`texts` must not contain empty strings")
        ids = torch.full((len(texts), int(lengths.max())), self.pad, dtype=torch.long)
        for row, e in enumerate(encoded):
            ids[row, :len(e)] = torch.tensor(e, dtype=torch.long)
        return ids.to(device), lengths


class Seq2Seq(nn.Module):
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
    def _check_source(self, source, source_lengths) -> None:
        _checks.tensor(source, "source")
        _checks.tensor(source_lengths, "source_lengths")
        if source.dtype != torch.long or source_lengths.dtype != torch.long:
            raise TypeError(f"`source` and `source_lengths` must be int64 ids; got "
                            f"{source.dtype} and {source_lengths.dtype}")
        _checks.rank(source, "source", "(B, S)", exact=2)
        _checks.rank(source_lengths, "source_lengths", "(B,)", exact=1)
        _checks.dim_equal(source, "source", 0, source_lengths, "source_lengths", 0,
                          "batch size B (dim 0)")
        if source_lengths.numel() and (int(source_lengths.min()) < 1
                                       or int(source_lengths.max()) > source.shape[1]):
            raise ValueError(f"`source_lengths` must be between 1 and S = {source.shape[1]}; "
                             f"got {source_lengths.tolist()}")

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
        self._check_source(source, source_lengths)
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

    def translate(self, texts: Sequence[str], *, max_len: int | None = None
                  ) -> tuple[list[str], torch.Tensor | None]:
        """Translate a list of strings greedily; return ``(outputs, weights)``.

        ``max_len`` defaults to 16 output characters (ISO dates have 10).  The
        weights are ``(B, max_len, S)`` (``max_source_len`` for rule 1) or ``None``.
        """
        device = next(self.parameters()).device
        source, lengths = self.source_vocab.batch(texts, device=device)
        was_training = self.training
        self.eval()
        try:
            ids, weights = self.greedy(source, lengths, 16 if max_len is None else max_len)
        finally:
            self.train(was_training)
        return [self.target_vocab.decode(row) for row in ids], weights

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


# ---------------------------------------------------------------------- training
@dataclass
class TrainResult:
    """What :func:`train` did: loss per step, steps, epochs and wall seconds."""

    losses: list[float] = field(default_factory=list)
    steps: int = 0
    epochs: int = 0
    seconds: float = 0.0


def _pairs(pairs, name: str = "pairs") -> list[tuple[str, str]]:
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence) or not pairs:
        raise TypeError(f"`{name}` must be a non-empty list of (source, target) string pairs; "
                        f"got {type(pairs).__name__}")
    for p in pairs[:1]:
        if not (isinstance(p, tuple) and len(p) == 2 and all(isinstance(s, str) for s in p)):
            raise TypeError(f"`{name}` must hold (source, target) string pairs; got {p!r}")
    return list(pairs)


def train(model: Seq2Seq, pairs: Sequence[tuple[str, str]], *, epochs: int = 4,
          batch_size: int = 64, lr: float = 3e-3, seed: int = 0, max_steps: int | None = None,
          max_seconds: float | None = None, progress: bool = True) -> TrainResult:
    """Train ``model`` with teacher forcing, Adam and cross-entropy on ``pairs``.

    The amount of training is ``epochs`` passes over ``pairs`` (or fewer, if
    ``max_steps`` batches come first), so a fixed seed gives the same model on
    the same machine.  ``max_seconds`` adds a wall-clock budget, which makes the
    result depend on the machine's speed: use it for the command line, not in
    the notebooks.

    Args:
        model: a :class:`Seq2Seq`; it is trained in place.
        pairs: ``(source, target)`` strings.
        epochs, batch_size, max_steps: how much training, in passes and batches.
        lr: Adam's learning rate.
        seed: seeds the shuffling (a private generator) and nothing else; seed
            the model's initialisation with ``torch.manual_seed`` before making it.
        max_seconds: stop after the first step that ends past this many seconds.
        progress: show a progress bar (``tqdm.auto``: a widget in notebooks,
            text in a terminal).

    Returns:
        a :class:`TrainResult`; ``seconds`` is the wall time of the loop.  The
        model is left in eval mode.
    """
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"`model` must be an attnlib.seq2seq.Seq2Seq; got {type(model).__name__}")
    pairs = _pairs(pairs)
    _checks.positive_int(epochs, "epochs")
    _checks.positive_int(batch_size, "batch_size")
    _checks.positive_number(lr, "lr")
    if max_steps is not None:
        _checks.positive_int(max_steps, "max_steps")
    if max_seconds is not None:
        _checks.positive_number(max_seconds, "max_seconds")
    _checks.boolean(progress, "progress")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"`seed` must be an int; got {type(seed).__name__} {seed!r}")

    device = next(model.parameters()).device
    sources, lengths = model.source_vocab.batch([s for s, _ in pairs], device=device)
    targets, _ = model.target_vocab.batch([t for _, t in pairs], eos=True, device=device)
    sos = torch.full((len(pairs), 1), CharVocab.sos, dtype=torch.long, device=device)
    target_in = torch.cat((sos, targets[:, :-1]), dim=1)  # shift right: <sos> y_1 .. y_{L-1}
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps_per_epoch = math.ceil(len(pairs) / batch_size)
    total = epochs * steps_per_epoch
    if max_steps is not None:
        total = min(max_steps, total)

    from tqdm.auto import tqdm  # imported here: attnlib itself needs only torch

    result = TrainResult()
    model.train()
    start = time.perf_counter()
    with tqdm(total=total, disable=not progress, desc=f"rule={model.rule}", unit="step",
              leave=True) as bar:
        for epoch in range(epochs):
            order = torch.randperm(len(pairs), generator=generator)
            for i in range(0, len(pairs), batch_size):
                idx = order[i:i + batch_size].to(device)
                batch_lengths = lengths[idx.cpu()]
                S = int(batch_lengths.max())
                logits, _ = model(sources[idx, :S], batch_lengths, target_in[idx])
                loss = F.cross_entropy(logits.flatten(0, 1), targets[idx].flatten(),
                                       ignore_index=CharVocab.pad)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                result.losses.append(loss.item())
                result.steps += 1
                bar.update(1)
                if result.steps % 20 == 0:
                    bar.set_postfix(loss=f"{loss.item():.3f}")
                out_of_time = (max_seconds is not None
                               and time.perf_counter() - start > max_seconds)
                if result.steps == total or out_of_time:
                    break
            result.epochs = epoch + 1
            if result.steps == total or out_of_time:
                break
    result.seconds = time.perf_counter() - start
    model.eval()
    return result


@torch.no_grad()
def exact_match(model: Seq2Seq, pairs: Sequence[tuple[str, str]], *, batch_size: int = 500
                ) -> float:
    """The fraction of ``pairs`` whose greedy translation equals the target exactly."""
    if not isinstance(model, Seq2Seq):
        raise TypeError(f"`model` must be an attnlib.seq2seq.Seq2Seq; got {type(model).__name__}")
    pairs = _pairs(pairs)
    _checks.positive_int(batch_size, "batch_size")
    max_len = max(len(t) for _, t in pairs) + 1
    correct = 0
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i:i + batch_size]
        outputs, _ = model.translate([s for s, _ in chunk], max_len=max_len)
        correct += sum(o == t for o, (_, t) in zip(outputs, chunk))
    return correct / len(pairs)


# ---------------------------------------------------------------------- the chapter's exercise
# ---------------------------------------------------------------------- the dates task
def dates_model(rule: str, *, encoder_self_attention: bool = False, seed: int = 0,
                max_source_len: int | None = None, **sizes) -> Seq2Seq:
    """A :class:`Seq2Seq` for :mod:`attnlib.dates`, initialised from ``seed``.

    For rule 1, ``max_source_len`` defaults to the longest *training* input
    (:data:`attnlib.dates.SHORT_MAX_LEN`); longer inputs are cut to it where
    rule 1 looks at them.  It uses a private generator state: the global torch
    seed is left as it was.
    """
    from . import dates

    check_rule(rule)
    if rule == "location" and max_source_len is None:
        max_source_len = dates.SHORT_MAX_LEN
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Seq2Seq(CharVocab(dates.SOURCE_CHARS), CharVocab(dates.TARGET_CHARS), rule=rule,
                       max_source_len=max_source_len,
                       encoder_self_attention=encoder_self_attention, **sizes)


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """The command line: train one variant on the dates task and print its numbers."""
    from . import dates

    parser = argparse.ArgumentParser(
        prog="python -m attnlib.seq2seq",
        description="Train one GRU encoder-decoder on the dates task (attnlib.dates) and print "
                    "its exact-match accuracy on the test set and on the longer inputs.")
    parser.add_argument("--rule", default="additive",
                        help=f"decoder attention, one of {', '.join(RULES)} (default: additive)")
    parser.add_argument("--encoder-self-attention", action="store_true",
                        help="add a rule-3 self-attention layer on the encoder side")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, model and shuffling")
    parser.add_argument("--epochs", type=int, default=4,
                        help="passes over the training set (default 4, as in the chapter)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="also stop after this many seconds of training (not deterministic)")
    parser.add_argument("--n-train", type=int, default=6000, help="training pairs")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch CPU threads (default 2; 1 is faster on a busy machine)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        check_rule(args.rule)
    except ValueError as err:
        parser.error(str(err))
    for name in ("epochs", "n_train", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.seconds is not None and not args.seconds > 0:
        parser.error("--seconds must be positive")

    try:
        model = dates_model(args.rule, encoder_self_attention=args.encoder_self_attention,
                            seed=args.seed)
    except ValueError as err:
        parser.error(str(err))
    torch.set_num_threads(args.threads)
    splits = dates.make_splits(args.seed, n_train=args.n_train)
    name = args.rule + (" + encoder self-attention" if args.encoder_self_attention else "")
    print(f"rule: {name}; {len(splits['train'])} training pairs, inputs up to "
          f"{max(len(s) for s, _ in splits['train'])} chars; long inputs "
          f"{min(len(s) for s, _ in splits['long'])}..{max(len(s) for s, _ in splits['long'])} "
          f"chars; torch {torch.__version__}, CPU threads: {torch.get_num_threads()}", flush=True)
    result = train(model, splits["train"], epochs=args.epochs, seed=args.seed,
                   max_seconds=args.seconds, progress=not args.no_progress)
    numbers = {"train_seconds": result.seconds, "steps": result.steps}
    for split in ("val", "test", "long"):
        numbers[split] = exact_match(model, splits[split])
    print(f"trained {result.steps} steps ({result.epochs} epochs) in {result.seconds:.2f} s; "
          f"final loss {result.losses[-1]:.4f}")
    print(f"exact match: val {numbers['val']:.1%}, test {numbers['test']:.1%}, "
          f"long inputs {numbers['long']:.1%}")
    sys.stdout.flush()
    return numbers


__all__ = ["RULES", "CharVocab", "Seq2Seq", "TrainResult", "check_decoder_attention_step",
           "check_rule", "dates_model", "exact_match", "main", "train"]

if __name__ == "__main__":
    main()
