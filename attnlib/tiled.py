"""Tiled attention with an online softmax: rule 3 without the ``(L, S)`` weights.

Rule 3 written out builds the scores and the weights, two ``(..., L, S)``
tensors.  Here the keys and values are read in blocks of ``block_size`` rows,
and each query keeps three running quantities while the blocks go by:

- ``m``, the largest score seen so far;
- ``l``, the softmax denominator so far, ``sum_j exp(score_j - m)``;
- ``acc``, the numerator so far, ``sum_j exp(score_j - m) v_j``.

When a block brings a larger maximum ``m'``, the old ``l`` and ``acc`` are
multiplied by ``exp(m - m')``, which turns every ``exp(score_j - m)`` they hold
into ``exp(score_j - m')`` exactly.  After the last block ``acc / l`` is the
softmax-weighted average of the values, the same number rule 3 gives
(Milakov and Gimelshein, 2018; Dao et al., 2022).

Two savings in the code below: the values get a column of ones, ``[V | 1]``,
so that one matrix product per block updates the numerator and the
denominator together (``l`` is the last column of ``acc``); and the first
block has nothing to rescale.  The extra memory is one ``(..., L,
block_size)`` block of scores (and its exponentials) at a time, the ``(...,
L)`` and ``(..., L, Ev + 1)`` running state, and the ``(..., S, Ev + 1)`` copy
``[V | 1]`` -- instead of ``(..., L, S)``.

This is a teaching implementation in plain PyTorch: the loop over key blocks
runs in Python and all queries go through each block together (blocks of
queries as well would mean many more, smaller operations, and on a CPU the
per-operation cost would then dominate).  Autograd works through it, storing
every block for the backward pass.  Fused kernels such as FlashAttention do the
same arithmetic inside one GPU kernel, with blocks of queries too.
"""

from __future__ import annotations

import math

import torch

from . import _checks

_LEGENDS = ("(..., L, E)", "(..., S, E)", "(..., S, Ev)")


def tiled_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    *,
    block_size: int = 128,
    is_causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    """Rule 3, ``softmax(query @ key^T * scale) @ value``, one block of keys at a time.

    Equal, within floating-point rounding, to
    :func:`torch.nn.functional.scaled_dot_product_attention` with the same
    ``is_causal`` and ``scale``, for any ``L``, ``S`` and ``block_size`` (the
    last block may be shorter).  The weights are never formed, so none are
    returned.

    Args:
        query, key, value: floating-point tensors of one dtype and device, with
            the same leading (batch) dims.
        block_size: how many keys (and values) each step reads.  The extra
            memory grows with ``L * block_size`` (plus a copy of the values),
            not with ``L * S``.
        is_causal: forbid query ``i`` from attending to keys after ``i``
            (top-left aligned, as in PyTorch).  Blocks that no remaining query
            may see are skipped, and each block is only scored against the
            queries that may see part of it.
        scale: multiplies the scores; default ``1 / sqrt(E)``.

    Empty sizes behave as in PyTorch: a batch dim, ``L`` or ``S`` may be 0; with
    ``S = 0`` the output is zero, and gradients exist and are zero.

    Returns:
        the output, in the inputs' dtype.  For ``float16`` and ``bfloat16``
        inputs the running maximum, denominator and accumulator are kept in
        ``float32``, as fused kernels do.

    Shapes:
        - query: ``(..., L, E)``
        - key: ``(..., S, E)``
        - value: ``(..., S, Ev)``
        - returns: ``(..., L, Ev)``
    """
    _checks.qkv(query, key, value, legends=_LEGENDS)
    _checks.dim_equal(query, "query", -1, key, "key", -1, "last dim E")
    _checks.positive_int(block_size, "block_size")
    _checks.boolean(is_causal, "is_causal")
    scale = _checks.scale_or_default(scale, query.shape[-1])

    L, S, Ev = query.shape[-2], key.shape[-2], value.shape[-1]
    lead = query.shape[:-2]
    N = math.prod(lead)  # every leading (batch, head) dim in one
    # Half precision loses too much in a running sum; keep the state in float32.
    state_dtype = torch.float32 if query.dtype in (torch.float16, torch.bfloat16) else query.dtype
    q = (query * scale).reshape(N, L, query.shape[-1])  # scale once: (..., L, E) -> (N, L, E)
    k = key.reshape(N, S, key.shape[-1])  # (..., S, E) -> (N, S, E)
    # A column of ones after the values makes the denominator part of the accumulator:
    # p @ [V | 1] = [p @ V | sum_j p_j], one matrix product and one rescale for both.
    ones = torch.ones((*value.shape[:-1], 1), dtype=value.dtype, device=value.device)
    v1 = torch.cat((value, ones), dim=-1).reshape(N, S, Ev + 1)  # (..., S, Ev) -> (N, S, Ev + 1)
    # Without autograd the state and each tile can be updated in place, so a step
    # allocates one tile and nothing else.  With autograd, every step makes new tensors,
    # because the backward pass needs the old values.
    needs_grad = torch.is_grad_enabled() and any(t.requires_grad for t in (query, key, value))
    m = torch.full((N, L), float("-inf"), dtype=state_dtype, device=query.device)  # running max
    # running [numerator | denominator], (N, L, Ev + 1)
    acc = None if needs_grad else torch.zeros((N, L, Ev + 1), dtype=state_dtype, device=query.device)

    for s0 in range(0, S, block_size):
        s1 = min(s0 + block_size, S)
        # Causal, top-left aligned: query i sees keys 0..i, so queries before s0 see
        # nothing of this block and are left out; if none is left, no later block counts.
        q0 = s0 if is_causal else 0
        if q0 >= L:
            break
        scores = torch.bmm(q[:, q0:], k[:, s0:s1].transpose(1, 2))  # (N, L - q0, b), b = s1 - s0
        scores = scores.to(state_dtype)
        if is_causal:
            # Only the first rows see part of the block: row r (query q0 + r) sees
            # columns c (key s0 + c) with c <= r, a top-left triangle.
            n = min(s1, L) - q0
            hidden = ~torch.ones(n, s1 - s0, dtype=torch.bool, device=query.device).tril()
            scores[:, :n, :].masked_fill_(hidden, float("-inf"))

        m_old = m[:, q0:]  # (N, L - q0)
        m_new = torch.maximum(m_old, scores.amax(dim=-1))
        # A row whose scores are all -inf so far has m_new = -inf; subtracting it would
        # give (-inf) - (-inf) = NaN.  Any finite reference works there, as every
        # exp(...) of that row is 0 anyway; use 0.
        m_ref = m_new.masked_fill(m_new == float("-inf"), 0.0).unsqueeze(-1)  # (N, L - q0, 1)
        # exp(s - m_old) -> exp(s - m_new) for what acc holds; 0 on the first block
        rescale = torch.exp(m_old.unsqueeze(-1) - m_ref)  # (N, L - q0, 1), in [0, 1]
        v_blk = v1[:, s0:s1]  # (N, b, Ev + 1)
        same = v_blk.dtype == state_dtype
        if not needs_grad:
            p = scores.sub_(m_ref).exp_()  # (N, L - q0, b), entries in [0, 1]
            rows = acc[:, q0:]  # (N, L - q0, Ev + 1), a view: updated in place
            if s0 > 0:
                rows.mul_(rescale)
            if same:  # rows += p @ [V | 1], written in place (out=, which FlopCounterMode counts)
                torch.baddbmm(rows, p, v_blk, out=rows)
            else:
                rows.add_(_matmul(p, v_blk, state_dtype))
            m[:, q0:] = m_new
        else:
            p = (scores - m_ref).exp_()
            if acc is None:  # the first block: nothing to rescale yet
                acc_new = _matmul(p, v_blk, state_dtype)
            elif same:
                acc_new = torch.baddbmm(acc[:, q0:] * rescale, p, v_blk)  # ... + p @ [V | 1]
            else:
                acc_new = acc[:, q0:] * rescale + _matmul(p, v_blk, state_dtype)
            if q0 == 0:
                m, acc = m_new, acc_new
            else:  # keep the rows before q0 as they were
                m = torch.cat((m[:, :q0], m_new), dim=-1)
                acc = torch.cat((acc[:, :q0], acc_new), dim=-2)
        del scores, p  # free this tile before the next one is made

    if acc is None:
        # With autograd no block ran: S = 0 (no key at all), or causal with L = 0.  The
        # output is zero (S = 0) or empty (L = 0), as in PyTorch; made by the two empty
        # products so that it stays connected to the inputs and their gradients are zero.
        return (query @ key.transpose(-2, -1)) @ value  # (..., L, S) @ (..., S, Ev), S or L = 0
    numerator, denom = acc[..., :Ev], acc[..., Ev:]  # (N, L, Ev), (N, L, 1)
    # A row with no allowed key (none exists for causal top-left or no mask, but the
    # guard is cheap) has numerator = 0 and denom = 0: give it a zero output, not NaN.
    denom = torch.where(denom > 0, denom, torch.ones_like(denom))
    out = (numerator / denom).to(query.dtype)  # (N, L, Ev)
    return out.reshape(*lead, L, Ev)  # (N, L, Ev) -> (..., L, Ev)


def _matmul(p: torch.Tensor, v: torch.Tensor, state_dtype: torch.dtype) -> torch.Tensor:
    """``p @ v`` in the values' dtype (fast kernels for half precision), result in ``state_dtype``."""
    return torch.bmm(p.to(v.dtype), v).to(state_dtype)
