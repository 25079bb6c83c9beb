"""Training and scoring for the image and video models: a fixed number of steps.

:func:`train` runs Adam on cross-entropy for exactly ``steps`` batches drawn from a
private generator, so a seed gives the same model on the same machine;
:func:`accuracy` scores it.  Both accept models whose ``forward`` returns logits or
``(logits, extras)``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .. import _checks
from .._progress import progress_bar


@dataclass
class TrainResult:
    """What :func:`train` did: loss per step, steps and wall seconds."""

    losses: list[float] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0


def _logits(out) -> torch.Tensor:
    return out[0] if isinstance(out, tuple) else out


def _data(model, inputs, labels) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be an nn.Module; got {type(model).__name__}")
    _checks.tensor(inputs, "inputs")
    _checks.tensor(labels, "labels")
    if labels.dim() != 1 or labels.dtype != torch.long or len(labels) != len(inputs):
        raise ValueError(f"`labels` must be int64 of shape (N,) with N = len(inputs) = "
                         f"{len(inputs)}; got {labels.dtype} {tuple(labels.shape)}")


def train(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *, steps: int,
          batch_size: int = 64, lr: float = 3e-3, seed: int = 0,
          progress: bool = False) -> TrainResult:
    """Train ``model`` in place for ``steps`` Adam steps on random batches.

    Seed the model's initialisation with ``torch.manual_seed`` before making it;
    ``seed`` seeds only the batches.  The model is left in eval mode.
    """
    _data(model, inputs, labels)
    _checks.positive_int(steps, "steps")
    _checks.positive_int(batch_size, "batch_size")
    _checks.positive_number(lr, "lr")
    _checks.boolean(progress, "progress")
    g = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    result = TrainResult()
    model.train()
    start = time.perf_counter()
    with progress_bar(steps, type(model).__name__, enabled=progress) as bar:
        for _ in range(steps):
            idx = torch.randint(len(inputs), (batch_size,), generator=g)
            loss = F.cross_entropy(_logits(model(inputs[idx])), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            result.losses.append(loss.item())
            result.steps += 1
            bar.update(1)
    result.seconds = time.perf_counter() - start
    model.eval()
    return result


@torch.no_grad()
def accuracy(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *,
             batch_size: int = 500) -> float:
    """The fraction of ``inputs`` whose most likely class is the label (eval mode)."""
    _data(model, inputs, labels)
    model.eval()
    right = 0
    for i in range(0, len(inputs), batch_size):
        right += (_logits(model(inputs[i:i + batch_size])).argmax(-1)
                  == labels[i:i + batch_size]).sum().item()
    return right / len(inputs)
