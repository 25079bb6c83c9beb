"""FlexAttention (Dong et al., 2024): masks and biases as small functions of positions.

``torch.nn.attention.flex_attention`` (PyTorch >= 2.5) computes

.. math::

    \\operatorname{softmax}_j\\big(\\text{score\\_mod}(q_i \\cdot k_j / \\sqrt{E},
        b, h, i, j)\\big)\\ \\text{over the } j \\text{ with mask\\_mod}(b, h, i, j),

where the two mods are ordinary Python functions of scalar-like tensors:

- ``mask_mod(b, h, q_idx, kv_idx) -> bool``: may query ``q_idx`` of sequence
  ``b``, head ``h`` see key ``kv_idx``?  It is evaluated per *block* of
  ``128 x 128`` (query, key) pairs ahead of time (``create_block_mask``):
  blocks with no allowed pair are skipped altogether, which is where the
  speed of a sparse pattern comes from;
- ``score_mod(score, b, h, q_idx, kv_idx) -> score``: changes one score, e.g.
  adds a bias or caps it.

Under ``torch.compile`` both are fused into one kernel; called eagerly,
FlexAttention builds the dense ``(L, S)`` scores (useful to check, slow).
This module holds the mods for the patterns of :mod:`attnlib.sliding_window`,
:mod:`attnlib.mask_patterns`,
:mod:`attnlib.alibi`, :mod:`attnlib.relative_bias` and soft-capping, and thin
wrappers that import FlexAttention only when called, so ``import attnlib``
works with older torch; there the wrappers raise an ``ImportError`` naming the
version needed.
"""

from __future__ import annotations

import functools
import warnings
from typing import Callable

import torch

from . import _checks
from .relative_bias import T5RelativeBias, relative_position_bucket

MIN_TORCH = (2, 5)
"""The first torch release with FlexAttention."""


def flex_module():
    """``torch.nn.attention.flex_attention``, or an ImportError naming torch >= 2.5."""
    try:
        import torch.nn.attention.flex_attention as flex
    except ImportError:
        raise ImportError(f"FlexAttention needs torch >= {MIN_TORCH[0]}.{MIN_TORCH[1]} "
                          f"(torch.nn.attention.flex_attention); this is torch "
                          f"{torch.__version__}") from None
    return flex


# ----------------------------------------------------------------------- mask_mods
def causal_mask_mod(b, h, q_idx, kv_idx):
    """Query ``i`` sees keys ``j <= i``."""
    return kv_idx <= q_idx


def sliding_window_mask_mod(window: int) -> Callable:
    """Query ``i`` sees key ``j`` when ``0 <= i - j < window``.

    The dense mask is :func:`attnlib.sliding_window_mask` ``(L, S, window)``.
    """
    _checks.positive_int(window, "window")

    def mask_mod(b, h, q_idx, kv_idx):
        return (kv_idx <= q_idx) & (q_idx - kv_idx < window)
    return mask_mod


def prefix_lm_mask_mod(prefix_length: int | torch.Tensor) -> Callable:
    """Every query sees keys ``j < prefix_length`` (one int, or ``(B,)``), the rest causally."""
    if isinstance(prefix_length, torch.Tensor):
        _checks.rank(prefix_length, "prefix_length", "(B,)", exact=1)

        def mask_mod(b, h, q_idx, kv_idx):
            return (kv_idx < prefix_length[b]) | (kv_idx <= q_idx)
        return mask_mod
    _checks.non_negative_int(prefix_length, "prefix_length")

    def mask_mod(b, h, q_idx, kv_idx):
        return (kv_idx < prefix_length) | (kv_idx <= q_idx)
    return mask_mod


def document_mask_mod(document_ids: torch.Tensor, *, causal: bool = True) -> Callable:
    """Packed documents: same document id (``-1`` = padding, sees nothing), causal if asked.

    Shapes:
        - document_ids: ``(B, L)``
    """
    _checks.tensor(document_ids, "document_ids")
    _checks.rank(document_ids, "document_ids", "(B, L)", exact=2)
    _checks.boolean(causal, "causal")

    def mask_mod(b, h, q_idx, kv_idx):
        doc_q, doc_k = document_ids[b, q_idx], document_ids[b, kv_idx]
        same = (doc_q == doc_k) & (doc_q >= 0)
        return same & (kv_idx <= q_idx) if causal else same
    return mask_mod


# ---------------------------------------------------------------------- score_mods
def alibi_score_mod(slopes: torch.Tensor) -> Callable:
    """Add ALiBi's ``-m_h |i - j|`` (``slopes``: ``(H,)``, e.g. :func:`attnlib.alibi_slopes`)."""
    _checks.tensor(slopes, "slopes")
    _checks.rank(slopes, "slopes", "(H,)", exact=1)
    m = slopes.float()

    def score_mod(score, b, h, q_idx, kv_idx):
        return score - m[h] * (q_idx - kv_idx).abs()
    return score_mod


def t5_score_mod(bias: T5RelativeBias) -> Callable:
    """Add T5's learned bias of the bucket of ``j - i`` for head ``h`` (from ``bias``'s table)."""
    if not isinstance(bias, T5RelativeBias):
        raise TypeError(f"`bias` must be an attnlib.T5RelativeBias; got {type(bias).__name__}")
    table = bias.relative_attention_bias.weight  # (num_buckets, H)
    settings = dict(bidirectional=bias.bidirectional, num_buckets=bias.num_buckets,
                    max_distance=bias.max_distance)

    def score_mod(score, b, h, q_idx, kv_idx):
        return score + table[relative_position_bucket(kv_idx - q_idx, **settings), h]
    return score_mod


def softcap_score_mod(cap: float) -> Callable:
    """Gemma 2's soft-capping: ``cap * tanh(score / cap)``, every score within ``(-cap, cap)``."""
    _checks.positive_number(cap, "cap")

    def score_mod(score, b, h, q_idx, kv_idx):
        return cap * torch.tanh(score / cap)
    return score_mod


def compose_score_mods(*mods: Callable) -> Callable:
    """One ``score_mod`` applying ``mods`` in order (e.g. soft-cap, then a bias)."""
    def score_mod(score, b, h, q_idx, kv_idx):
        for mod in mods:
            score = mod(score, b, h, q_idx, kv_idx)
        return score
    return score_mod


# -------------------------------------------------------------- masks and blocks
def dense_mask(mask_mod: Callable, B: int, H: int, L: int, S: int, *, device=None
               ) -> torch.Tensor:
    """Evaluate ``mask_mod`` at every ``(b, h, i, j)``: the ``(B, H, L, S)`` boolean mask.

    Needs no FlexAttention: the mod is called once on broadcast index tensors.

    Shapes:
        - returns: ``(B, H, L, S)``, ``True`` = may attend
    """
    for name, n in [("B", B), ("H", H), ("L", L), ("S", S)]:
        _checks.non_negative_int(n, name)
    b = torch.arange(B, device=device)[:, None, None, None]  # (B, 1, 1, 1)
    h = torch.arange(H, device=device)[None, :, None, None]  # (1, H, 1, 1)
    i = torch.arange(L, device=device)[None, None, :, None]  # (1, 1, L, 1)
    j = torch.arange(S, device=device)[None, None, None, :]  # (1, 1, 1, S)
    return torch.as_tensor(mask_mod(b, h, i, j)).expand(B, H, L, S).clone()


def block_sparsity(mask: torch.Tensor, block_size: int = 128) -> float:
    """The share of ``block_size x block_size`` tiles of ``mask`` with no allowed pair.

    These are the tiles FlexAttention skips; the last row or column of tiles
    may be partial.

    Shapes:
        - mask: ``(..., L, S)``, boolean
    """
    _checks.tensor(mask, "mask")
    if mask.dtype != torch.bool:
        raise TypeError(f"`mask` must be a boolean tensor; got dtype {mask.dtype}")
    _checks.rank(mask, "mask", "(..., L, S)", at_least=2)
    _checks.positive_int(block_size, "block_size")
    L, S = mask.shape[-2:]
    nl, ns = -(-L // block_size), -(-S // block_size)  # ceil
    padded = mask.new_zeros(*mask.shape[:-2], nl * block_size, ns * block_size)
    padded[..., :L, :S] = mask
    tiles = padded.unflatten(-1, (ns, block_size)).unflatten(-3, (nl, block_size))
    any_allowed = tiles.any(dim=-1).any(dim=-2)  # (..., nl, bs, ns, bs) -> (..., nl, ns)
    return 1.0 - any_allowed.float().mean().item()


def block_mask(mask_mod: Callable, B: int | None, H: int | None, L: int, S: int, *,
               block_size: int = 128, device=None):
    """FlexAttention's ``BlockMask`` of ``mask_mod`` (``B`` or ``H`` None: the same for all).

    Each ``block_size x block_size`` tile of (query, key) pairs is marked as
    computed if ``mask_mod`` allows at least one pair in it; the others are
    skipped.  ``device`` defaults to the CPU.
    """
    flex = flex_module()
    return flex.create_block_mask(mask_mod, B, H, L, S, device=device or "cpu",
                                  BLOCK_SIZE=block_size)


@functools.lru_cache(maxsize=None)
def _compiled():
    return torch.compile(flex_module().flex_attention, dynamic=False)


def flex_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *,
                   score_mod: Callable | None = None, block_mask=None,
                   scale: float | None = None, compiled: bool = False) -> torch.Tensor:
    """FlexAttention's output: eager (dense inside, for checking) or ``compiled`` (fused).

    ``compiled=True`` uses one ``torch.compile`` of FlexAttention, made on the
    first call (that call compiles; a new mod or shape compiles again).
    A query whose keys are all masked gets a zero output.

    Shapes:
        - query ``(B, H, L, E)``, key ``(B, H, S, E)``, value ``(B, H, S, Ev)``
        - returns ``(B, H, L, Ev)``
    """
    _checks.qkv(query, key, value, legends=("(B, H, L, E)", "(B, H, S, E)", "(B, H, S, Ev)"),
                exact_rank=4)
    _checks.boolean(compiled, "compiled")
    scale = _checks.scale_or_default(scale, query.shape[-1])
    if compiled:
        fn = _compiled()
        return fn(query, key, value, score_mod=score_mod, block_mask=block_mask, scale=scale)
    fn = flex_module().flex_attention
    with warnings.catch_warnings():  # the advice to compile: we run eagerly on purpose
        warnings.filterwarnings("ignore", message=".*without torch.compile.*")
        return fn(query, key, value, score_mod=score_mod, block_mask=block_mask, scale=scale)
