"""Characters <-> integer ids, and strings in and out of the character-level models."""

from __future__ import annotations

from typing import Sequence

import torch

from .. import _checks


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


class Translates:
    """Mixin for a model with ``source_vocab``, ``target_vocab`` and ``greedy``.

    ``greedy(source, source_lengths, max_len)`` returns ``(ids (B, max_len), weights)``;
    :meth:`translate` turns strings into ids, runs it in eval mode and decodes.
    """

    def translate(self, texts: Sequence[str], *, max_len: int | None = None
                  ) -> tuple[list[str], torch.Tensor | None]:
        """Translate a list of strings greedily; return ``(outputs, weights)``.

        ``max_len`` defaults to 16 output characters (ISO dates have 10).  The
        weights are the model's, ``(B, max_len, S)`` or ``None`` (see its ``greedy``).
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


def check_source(source, source_lengths) -> None:
    """Require right-padded int64 ids ``(B, S)`` and their lengths ``(B,)``, each in 1..S."""
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
