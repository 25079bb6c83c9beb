"""The dates task for a decoder-only model: ``"<sos>23 Nov 2026=2026-11-23<eos>"``.

A decoder-only model reads the source, the separator ``=`` and the target as
one sequence and learns to predict the next token.  The loss counts only the
target's tokens (and ``<eos>``): the source is given, not predicted.

Exact match needs no decoding loop: greedy decoding writes the target exactly
if and only if, given the right prefix, the most likely next token is right at
every target position, so one teacher-forced pass decides it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn.functional as F

from .. import _checks
from . import dates
from .vocab import CharVocab

SEPARATOR = "="


def lm_vocab() -> CharVocab:
    """The vocabulary: every source character (targets use a subset) and ``=``."""
    return CharVocab(dates.SOURCE_CHARS + SEPARATOR)


def encode(pairs: Sequence[tuple[str, str]], vocab: CharVocab
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(inputs, labels)``, both ``(N, T)``: the next-token labels, ``pad`` on the source.

    ``inputs`` is ``<sos> source = target`` right-padded, ``labels`` the token
    that follows each input token where it is a target token or ``<eos>``, and
    ``pad`` (ignored by the loss) elsewhere.
    """
    if not pairs:
        raise ValueError("`pairs` must hold at least one (source, target) pair")
    ids, _ = vocab.batch([s + SEPARATOR + t for s, t in pairs], eos=True)  # (N, T - 1)
    sos = torch.full((len(pairs), 1), vocab.sos, dtype=torch.long)
    seq = torch.cat((sos, ids), dim=1)  # (N, T): <sos> source = target <eos> <pad>...
    inputs, labels = seq[:, :-1], seq[:, 1:].clone()
    first = torch.tensor([len(s) + 1 for s, _ in pairs])  # index of "=" in inputs
    position = torch.arange(inputs.shape[1])[None, :]
    labels[position < first[:, None]] = vocab.pad  # the source is not predicted
    return inputs, labels


@dataclass
class LMRun:
    """What :func:`train_lm` did: the steps, the seconds and every step's loss.

    ``seconds`` is wall-clock time; ``cpu_seconds`` the CPU time of this process
    (all its threads), which other programs on a shared machine barely change.
    """

    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0


def train_lm(model: torch.nn.Module, pairs: Sequence[tuple[str, str]], *, steps: int,
             batch_size: int = 64, lr: float = 3e-3, seed: int = 0) -> LMRun:
    """Adam with a cosine-decaying rate for ``steps`` batches drawn from ``pairs``.

    Batches are drawn with a private generator from ``seed``; the model is
    left in eval mode.
    """
    _checks.positive_int(steps, "steps")
    _checks.positive_int(batch_size, "batch_size")
    _checks.positive_number(lr, "lr")
    vocab = lm_vocab()
    inputs, labels = encode(pairs, vocab)
    order = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    model.train()
    start, cpu_start, losses = time.perf_counter(), time.process_time(), []
    for _ in range(steps):
        rows = torch.randint(0, len(inputs), (batch_size,), generator=order)
        x, y = inputs[rows], labels[rows]
        width = int((x != vocab.pad).sum(1).max())  # drop padding columns
        logits = model(x[:, :width])  # (b, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), y[:, :width].flatten(),
                               ignore_index=vocab.pad)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.eval()
    return LMRun(steps, time.perf_counter() - start, losses,
                 time.process_time() - cpu_start)


@torch.no_grad()
def exact_match(model: torch.nn.Module, pairs: Sequence[tuple[str, str]], *,
                batch_size: int = 500) -> torch.Tensor:
    """``(N,)`` bool: would greedy decoding write each target exactly (then ``<eos>``)?"""
    _checks.positive_int(batch_size, "batch_size")
    vocab = lm_vocab()
    was_training = model.training
    model.eval()
    try:
        out = []
        for lo in range(0, len(pairs), batch_size):
            inputs, labels = encode(pairs[lo:lo + batch_size], vocab)
            predicted = model(inputs).argmax(dim=-1)  # (b, T)
            scored = labels != vocab.pad
            out.append(((predicted == labels) | ~scored).all(dim=1))
    finally:
        model.train(was_training)
    return torch.cat(out)
