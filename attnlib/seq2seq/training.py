"""Training and scoring the character-level models on the generated tasks.

:func:`train` runs teacher-forced Adam with cross-entropy for a fixed number of
passes, so a seed gives the same model on the same machine; :func:`exact_match`
scores greedy translations; :func:`dates_model` builds a :class:`~attnlib.seq2seq.gru.Seq2Seq`
for the dates task.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .. import _checks
from .._progress import progress_bar
from . import dates
from .gru import Seq2Seq, check_rule
from .vocab import CharVocab

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


def _check_model(model) -> None:
    """Require a character-level model: ``source_vocab``, ``target_vocab`` and ``translate``.

    :class:`~attnlib.seq2seq.gru.Seq2Seq` is one; any ``nn.Module`` whose
    ``forward(source, source_lengths, target_in)`` returns ``(logits, weights)`` and
    which has those three attributes trains and scores the same way.
    """
    needed = ("source_vocab", "target_vocab", "translate")
    if not isinstance(model, nn.Module) or not all(hasattr(model, a) for a in needed):
        raise TypeError("`model` must be an nn.Module with source_vocab, target_vocab and "
                        "translate, e.g. attnlib.seq2seq.Seq2Seq; got "
                        f"{type(model).__name__}")


def train(model: nn.Module, pairs: Sequence[tuple[str, str]], *, epochs: int = 4,
          batch_size: int = 64, lr: float = 3e-3, seed: int = 0, max_steps: int | None = None,
          max_seconds: float | None = None, progress: bool = True,
          on_epoch_end: Callable[[int], object] | None = None,
          lr_decay: bool = False) -> TrainResult:
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
        lr: Adam's learning rate (the starting one, with ``lr_decay``).
        seed: seeds the shuffling (a private generator) and nothing else; seed
            the model's initialisation with ``torch.manual_seed`` before making it.
        max_seconds: stop after the first step that ends past this many seconds.
        progress: show a progress bar (``tqdm.auto`` when tqdm is installed: a
            widget in notebooks, text in a terminal; else a plain text line).
        on_epoch_end: called as ``on_epoch_end(epochs_done)`` after each full
            pass, e.g. to score the model part-way through one long run
            (``exact_match`` switches to eval mode and back).  It must not
            change the model; a run with it gives the same losses as without.
        lr_decay: lower the learning rate linearly from ``lr`` to 0 over the
            planned steps.  The last steps then only refine, so the result
            depends less on where the run stops (and on the machine's rounding).

    Returns:
        a :class:`TrainResult`; ``seconds`` is the wall time of the loop,
        without ``on_epoch_end``'s.  The model is left in eval mode.
    """
    _check_model(model)
    pairs = _pairs(pairs)
    _checks.positive_int(epochs, "epochs")
    _checks.positive_int(batch_size, "batch_size")
    _checks.positive_number(lr, "lr")
    if max_steps is not None:
        _checks.positive_int(max_steps, "max_steps")
    if max_seconds is not None:
        _checks.positive_number(max_seconds, "max_seconds")
    _checks.boolean(progress, "progress")
    _checks.boolean(lr_decay, "lr_decay")
    if on_epoch_end is not None and not callable(on_epoch_end):
        raise TypeError(f"`on_epoch_end` must be callable, e.g. a function of the number of "
                        f"epochs done; got {type(on_epoch_end).__name__}")
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
    scheduler = (torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 - step / total)
                 if lr_decay else None)

    result = TrainResult()
    model.train()
    start = time.perf_counter()
    in_callbacks = 0.0  # on_epoch_end's time is not training time
    with progress_bar(total, f"rule={getattr(model, 'rule', type(model).__name__)}",
                      enabled=progress) as bar:
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
                if scheduler is not None:
                    scheduler.step()
                result.losses.append(loss.item())
                result.steps += 1
                bar.update(1)
                if result.steps % 20 == 0:
                    bar.set_postfix(loss=f"{loss.item():.3f}")
                out_of_time = (max_seconds is not None
                               and time.perf_counter() - start - in_callbacks > max_seconds)
                if result.steps == total or out_of_time:
                    break
            result.epochs = epoch + 1
            if on_epoch_end is not None and result.steps == result.epochs * steps_per_epoch:
                called = time.perf_counter()
                on_epoch_end(result.epochs)
                model.train()
                in_callbacks += time.perf_counter() - called
            if result.steps == total or out_of_time:
                break
    result.seconds = time.perf_counter() - start - in_callbacks
    model.eval()
    return result


@torch.no_grad()
def exact_match(model: nn.Module, pairs: Sequence[tuple[str, str]], *, batch_size: int = 500
                ) -> float:
    """The fraction of ``pairs`` whose greedy translation equals the target exactly."""
    _check_model(model)
    pairs = _pairs(pairs)
    _checks.positive_int(batch_size, "batch_size")
    max_len = max(len(t) for _, t in pairs) + 1
    correct = 0
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i:i + batch_size]
        outputs, _ = model.translate([s for s, _ in chunk], max_len=max_len)
        correct += sum(o == t for o, (_, t) in zip(outputs, chunk))
    return correct / len(pairs)


def dates_model(rule: str, *, encoder_self_attention: bool = False, seed: int = 0,
                max_source_len: int | None = None, **sizes) -> Seq2Seq:
    """A :class:`Seq2Seq` for :mod:`attnlib.dates`, initialised from ``seed``.

    For rule 1, ``max_source_len`` defaults to the longest *training* input
    (:data:`attnlib.dates.SHORT_MAX_LEN`); longer inputs are cut to it where
    rule 1 looks at them.  It uses a private generator state: the global torch
    seed is left as it was.
    """
    check_rule(rule)
    if rule == "location" and max_source_len is None:
        max_source_len = dates.SHORT_MAX_LEN
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Seq2Seq(CharVocab(dates.SOURCE_CHARS), CharVocab(dates.TARGET_CHARS), rule=rule,
                       max_source_len=max_source_len,
                       encoder_self_attention=encoder_self_attention, **sizes)
