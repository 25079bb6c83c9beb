"""Linear attention (Katharopoulos et al., 2020) and the delta rule (Schlag et al., 2021).

Rule 3 compares every query with every key through ``exp(q . k / sqrt(E))``.
Replace that similarity by a dot product of features, ``phi(q) . phi(k)`` with
``phi(x) = elu(x) + 1 > 0``, and the sums regroup:

.. math::

    o_i = \\frac{\\sum_j \\phi(q_i)^\\top \\phi(k_j)\\, v_j}{\\sum_j \\phi(q_i)^\\top \\phi(k_j)}
        = \\frac{\\phi(q_i)^\\top S}{\\phi(q_i)^\\top z},
    \\qquad S = \\sum_j \\phi(k_j) v_j^\\top, \\quad z = \\sum_j \\phi(k_j).

``S`` (``E x Ev``) and ``z`` (``E``) do not depend on the query, so the cost is
linear in the length.  With a causal mask the sums run over ``j <= i``:
``S_i = S_{i-1} + phi(k_i) v_i^T`` -- a **recurrence** whose state has a fixed size,
so a decoding step costs the same at every length (no KV cache at all).

The **delta rule** writes into ``S`` like an associative memory that corrects
what it holds: ``S_i = S_{i-1} + beta_i k_i (v_i - S_{i-1}^T k_i)^T``, and gated
DeltaNet (Yang et al., 2024; the linear layers of Qwen3-Next) also decays the
old state by ``alpha_i`` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .grouped_query import check_input


def elu_feature_map(x: torch.Tensor) -> torch.Tensor:
    """``elu(x) + 1``: positive, so every similarity and every normaliser is > 0."""
    return F.elu(x) + 1


def _check_qkv(q, k, v, feature_map) -> None:
    _checks.qkv(q, k, v, legends=("(..., L, E)", "(..., S, E)", "(..., S, Ev)"))
    _checks.dim_equal(q, "q", -1, k, "k", -1, "last dim E",
                      " (queries and keys share their feature size)")
    if not callable(feature_map):
        raise TypeError(f"`feature_map` must be a function; got {type(feature_map).__name__}")


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *,
                     is_causal: bool = False,
                     feature_map: Callable[[torch.Tensor], torch.Tensor] = elu_feature_map,
                     eps: float = 1e-6) -> torch.Tensor:
    """Katharopoulos et al.'s attention, ``phi(q_i)^T S / (phi(q_i)^T z + eps)``.

    Args:
        q, k, v: floating tensors with the same leading dims.
        is_causal: query ``i`` sees keys ``0..i`` (needs ``L == S``); computed in
            parallel with cumulative sums.
        feature_map: ``phi``, applied to queries and keys; it must keep them positive.
        eps: added to the normaliser (the paper's implementation does the same).

    Shapes:
        - q: ``(..., L, E)``; k: ``(..., S, E)``; v: ``(..., S, Ev)``
        - returns: ``(..., L, Ev)``
    """
    _check_qkv(q, k, v, feature_map)
    _checks.boolean(is_causal, "is_causal")
    if is_causal and q.shape[-2] != k.shape[-2]:
        raise ValueError(f"`is_causal` needs as many queries as keys; got q "
                         f"{_checks._shape(q)}, k {_checks._shape(k)}")
    fq, fk = feature_map(q), feature_map(k)  # (..., L, E), (..., S, E)
    if not is_causal:
        state = fk.transpose(-2, -1) @ v  # (..., E, S) @ (..., S, Ev) -> (..., E, Ev)
        norm = fk.sum(-2)  # (..., E)
        return (fq @ state) / ((fq * norm[..., None, :]).sum(-1, keepdim=True) + eps)
    # S_i = sum_{j <= i} phi(k_j) v_j^T for every i at once: (..., L, E, Ev)
    states = (fk[..., :, None] * v[..., None, :]).cumsum(-3)
    norms = fk.cumsum(-2)  # (..., L, E)
    numer = (fq[..., None, :] @ states).squeeze(-2)  # (..., L, 1, E) @ (..., L, E, Ev)
    return numer / ((fq * norms).sum(-1, keepdim=True) + eps)


def linear_attention_step(q, k, v, state, norm, *,
                          feature_map: Callable = elu_feature_map, eps: float = 1e-6):
    """One token of causal linear attention: ``S += phi(k) v^T``, ``z += phi(k)``, read.

    Returns ``(output, state, norm)``; the inputs are not changed.

    Shapes:
        - q, k: ``(..., E)``; v: ``(..., Ev)``; state: ``(..., E, Ev)``; norm: ``(..., E)``
        - output: ``(..., Ev)``
    """
    fq, fk = feature_map(q), feature_map(k)
    state = state + fk[..., :, None] * v[..., None, :]  # (..., E, Ev)
    norm = norm + fk  # (..., E)
    out = (fq[..., None, :] @ state).squeeze(-2) / ((fq * norm).sum(-1, keepdim=True) + eps)
    return out, state, norm


def delta_rule(q, k, v, beta, *, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """The (gated) delta rule, token by token, with ``S`` of shape ``(E, Ev)``:
    ``S_i = (I - beta_i k_i k_i^T) alpha_i S_{i-1} + beta_i k_i v_i^T``, ``o_i = S_i^T q_i``.

    ``alpha=None`` is DeltaNet (no decay).  Keys are usually L2-normalised first, so
    that ``beta = 1`` replaces the value stored under ``k_i`` exactly.

    Shapes:
        - q, k: ``(..., L, E)``; v: ``(..., L, Ev)``; beta, alpha: ``(..., L)`` in ``[0, 1]``
        - returns: ``(..., L, Ev)``
    """
    _check_qkv(q, k, v, elu_feature_map)
    for name, g in (("beta", beta), ("alpha", alpha)):
        if g is not None:
            _checks.tensor(g, name)
            _checks.size(g, name, -1, k.shape[-2], "last dim L", " (one value per token)")
    state = q.new_zeros(*k.shape[:-2], k.shape[-1], v.shape[-1])  # (..., E, Ev)
    outs = []
    for i in range(k.shape[-2]):
        k_i, v_i, b_i = k[..., i, :], v[..., i, :], beta[..., i, None]
        if alpha is not None:
            state = alpha[..., i, None, None] * state
        recalled = (k_i[..., None, :] @ state).squeeze(-2)  # S^T k: (..., Ev)
        state = state + k_i[..., :, None] * (b_i * (v_i - recalled))[..., None, :]
        outs.append((q[..., i, None, :] @ state).squeeze(-2))  # (..., Ev)
    return torch.stack(outs, dim=-2)


@dataclass
class LinearState:
    """The whole decoding state of one layer, the same size at every length.

    Shapes:
        - state: ``(B, H, d, d)``, ``S``; norm: ``(B, H, d)``, ``z``
    """

    state: torch.Tensor
    norm: torch.Tensor


class LinearSelfAttention(nn.Module):
    """Multi-head causal linear attention with ``q_proj``, ``k_proj``, ``v_proj``, ``o_proj``.

    The decoding state is ``S`` ``(B, H, d, d)`` and ``z`` ``(B, H, d)``, ``d = E/H``:
    the same size at every length.

    Shapes:
        - x: ``(B, L, E)``; returns ``(B, L, E)``
    """

    def __init__(self, embed_dim: int, num_heads: int, *, bias: bool = False,
                 feature_map: Callable = elu_feature_map):
        super().__init__()
        _checks.positive_int(embed_dim, "embed_dim")
        _checks.positive_int(num_heads, "num_heads")
        if embed_dim % num_heads:
            raise ValueError(f"`embed_dim` must be divisible by `num_heads`; got embed_dim "
                             f"{embed_dim}, num_heads {num_heads}")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim, self.feature_map = embed_dim // num_heads, feature_map
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (
            nn.Linear(embed_dim, embed_dim, bias=bias) for _ in range(4))

    def _heads(self, y: torch.Tensor) -> torch.Tensor:
        B, L, _ = y.shape
        return y.view(B, L, self.num_heads, self.head_dim).transpose(1, 2)  # (B, H, L, d)

    def forward(self, x: torch.Tensor, *, mask=None, is_causal: bool = True) -> torch.Tensor:
        """Causal by default; ``mask`` is not supported (a recurrence has no score matrix)."""
        check_input(x, self, self.embed_dim, None, is_causal)
        if mask is not None:
            raise ValueError("`mask` must be None: linear attention builds no score matrix")
        q, k, v = (self._heads(p(x)) for p in (self.q_proj, self.k_proj, self.v_proj))
        out = linear_attention(q, k, v, is_causal=is_causal, feature_map=self.feature_map)
        return self.o_proj(out.transpose(1, 2).flatten(2))  # (B, H, L, d) -> (B, L, E)

    def new_state(self, batch_size: int, capacity: int | None = None) -> LinearState:
        """``S`` and ``z`` filled with zeros (``capacity`` is ignored: the state never grows)."""
        p, H, d = self.o_proj.weight, self.num_heads, self.head_dim
        return LinearState(p.new_zeros(batch_size, H, d, d), p.new_zeros(batch_size, H, d))

    def forward_cached(self, x: torch.Tensor, state: LinearState, start: int) -> torch.Tensor:
        """New tokens ``x`` ``(B, T, E)``, one recurrent step each; updates ``state``."""
        q, k, v = (self._heads(p(x)) for p in (self.q_proj, self.k_proj, self.v_proj))
        outs = []
        for t in range(x.shape[1]):
            o, state.state, state.norm = linear_attention_step(
                q[:, :, t], k[:, :, t], v[:, :, t], state.state, state.norm,
                feature_map=self.feature_map)
            outs.append(o)  # (B, H, d)
        return self.o_proj(torch.stack(outs, dim=2).transpose(1, 2).flatten(2))

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
