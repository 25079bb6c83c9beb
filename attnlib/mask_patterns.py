"""Dense masks of two common attention patterns: packed documents and prefix-LM.

Each is a boolean tensor, ``True`` = may attend (as everywhere in attnlib), to
pass as ``mask`` to :func:`attnlib.scaled_dot_product_attention` or
:func:`attnlib.biased_attention`.  Query ``i`` and key ``j`` count from 0.

- packed documents: several sequences packed into one row; a token sees only
  tokens of its own document (and, causal, not later ones); tokens with
  document id ``-1`` are padding and see nothing (their row is all False);
- prefix-LM (T5's prefix LM, UniLM): every query sees the whole prefix,
  ``j < prefix``, and the rest causally, ``j <= i``.

The sliding window's dense mask is :func:`attnlib.sliding_window_mask`
(chapter 10).  These dense tensors cost ``L x S`` booleans; FlexAttention
(:mod:`attnlib.flex`) expresses the same patterns as functions of ``(i, j)``.
"""

from __future__ import annotations

import torch

from . import _checks


def _grid(L: int, S: int | None, device) -> tuple[torch.Tensor, torch.Tensor, int]:
    S = L if S is None else S
    _checks.non_negative_int(L, "L")
    _checks.non_negative_int(S, "S")
    i = torch.arange(L, device=device)[:, None]  # (L, 1)
    j = torch.arange(S, device=device)[None, :]  # (1, S)
    return i, j, S


def prefix_lm_mask(L: int, prefix_length: int | torch.Tensor, *, device=None) -> torch.Tensor:
    """Query ``i`` sees key ``j`` when ``j < prefix_length`` or ``j <= i``.

    Args:
        L: the sequence length (queries and keys alike).
        prefix_length: an int, or a ``(B,)`` integer tensor, one per sequence.

    Shapes:
        - prefix_length: int or ``(B,)``
        - returns: ``(L, L)``, or ``(B, L, L)`` for a tensor ``prefix_length``
    """
    i, j, _ = _grid(L, None, device)
    if isinstance(prefix_length, torch.Tensor):
        if prefix_length.is_floating_point() or prefix_length.dtype == torch.bool:
            raise TypeError(f"`prefix_length` must be an int or an integer tensor; "
                            f"got dtype {prefix_length.dtype}")
        _checks.rank(prefix_length, "prefix_length", "(B,)", exact=1)
        prefix = prefix_length.to(device=i.device)[:, None, None]  # (B,) -> (B, 1, 1)
    else:
        _checks.non_negative_int(prefix_length, "prefix_length")
        prefix = prefix_length
    return (j < prefix) | (j <= i)  # (L, L) or (B, L, L)


def document_mask(document_ids: torch.Tensor, *, causal: bool = True) -> torch.Tensor:
    """Packed documents: token ``i`` sees token ``j`` of the same document (``j <= i`` if causal).

    Args:
        document_ids: integer ids, one per token; tokens with id ``-1`` are
            padding: they see nothing and nothing sees them.
        causal: also forbid later tokens.

    Shapes:
        - document_ids: ``(L,)`` or ``(B, L)``
        - returns: ``(L, L)`` or ``(B, L, L)``
    """
    _checks.tensor(document_ids, "document_ids")
    if document_ids.is_floating_point() or document_ids.dtype == torch.bool:
        raise TypeError(f"`document_ids` must be an integer tensor; "
                        f"got dtype {document_ids.dtype}")
    if document_ids.dim() not in (1, 2):
        raise ValueError(f"`document_ids` must have shape (L,) or (B, L); "
                         f"got {_checks._shape(document_ids)}")
    _checks.boolean(causal, "causal")
    doc_q = document_ids[..., :, None]  # (..., L, 1)
    doc_k = document_ids[..., None, :]  # (..., 1, L)
    mask = (doc_q == doc_k) & (doc_q >= 0)  # (..., L, L)
    if causal:
        i, j, _ = _grid(document_ids.shape[-1], None, document_ids.device)
        mask = mask & (j <= i)
    return mask
