"""The Triton kernels of :func:`attnlib.flash_attention` (FlashAttention-2).

Imported only when the kernel is first called, so that ``import attnlib`` never
needs Triton.  Three kernels, each a grid of programs over ``(blocks, B * H)``:

- :func:`forward`: one program per block of ``BLOCK_M`` queries; it loads its
  queries once, streams the keys and values in blocks of ``BLOCK_N`` with the
  online softmax of chapter 8, and writes the output and each row's
  log-sum-exp ``lse = m + log(l)``;
- :func:`backward_dkdv`: one program per block of ``BLOCK_N`` keys; it streams
  the query blocks, recomputes the weights ``P = exp(S - lse)`` from the saved
  log-sum-exp and sums ``dV = P^T dO`` and ``dK = dS^T Q * scale``;
- :func:`backward_dq`: one program per block of queries; it streams the key
  blocks and sums ``dQ = dS K * scale``.

``dS = P * (dP - delta)`` with ``dP = dO V^T`` and ``delta = rowsum(dO * O)``
(Dao, 2023).  Every tensor is ``(B, H, rows, features)`` with any strides; rows
past ``L`` or ``S`` and feature columns past ``E`` or ``Ev`` are masked, so the
sizes need not be multiples of the blocks.  ``BLOCK_E`` and ``BLOCK_EV`` are
the feature sizes rounded up to a power of two (at least 16, as ``tl.dot``
needs).  The running maximum, sum and accumulators are float32 whatever the
inputs' dtype.  Causal attention is top-left aligned (query ``i`` sees keys
``0..i``), as in PyTorch, and the loops skip the blocks above the diagonal.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _tile(base, rows, cols, stride_row, n_rows, n_cols):
    """Load a (rows, cols) tile; zeros past ``n_rows`` or ``n_cols``."""
    mask = (rows[:, None] < n_rows) & (cols[None, :] < n_cols)
    ptrs = base + rows[:, None] * stride_row + cols[None, :]
    return tl.load(ptrs, mask=mask, other=0.0)


@triton.jit
def forward(Q, K, V, O, LSE, scale, H, L, S, E, EV,
            sqb, sqh, sql, skb, skh, sks, svb, svh, svs, sob, soh, sol,
            BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
            BLOCK_E: tl.constexpr, BLOCK_EV: tl.constexpr,
            CAUSAL: tl.constexpr, PRECISION: tl.constexpr):
    start_m = tl.program_id(0)  # which block of queries
    bh = tl.program_id(1)  # which (batch, head)
    b, h = bh // H, bh % H
    rows = start_m * BLOCK_M + tl.arange(0, BLOCK_M)  # this block's queries
    cols = tl.arange(0, BLOCK_N)
    fe, fv = tl.arange(0, BLOCK_E), tl.arange(0, BLOCK_EV)
    # the queries, loaded once: (BLOCK_M, BLOCK_E)
    q = _tile(Q + b * sqb + h * sqh, rows, fe, sql, L, E)
    Kbh, Vbh = K + b * skb + h * skh, V + b * svb + h * svh

    m = tl.full([BLOCK_M], float("-inf"), tl.float32)  # running maximum
    l = tl.zeros([BLOCK_M], tl.float32)  # running sum of exp(s - m)
    acc = tl.zeros([BLOCK_M, BLOCK_EV], tl.float32)  # ... of exp(s - m) v
    hi = S
    if CAUSAL:  # keys after the block's last query: skip their blocks
        hi = tl.minimum(S, (start_m + 1) * BLOCK_M)
    for start_n in range(0, hi, BLOCK_N):
        keys = start_n + cols
        k = _tile(Kbh, keys, fe, sks, S, E)  # (BLOCK_N, BLOCK_E)
        v = _tile(Vbh, keys, fv, svs, S, EV)  # (BLOCK_N, BLOCK_EV)
        # (BLOCK_M, BLOCK_N) scores
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale
        allowed = keys[None, :] < S
        if CAUSAL:
            allowed = allowed & (keys[None, :] <= rows[:, None])
        s = tl.where(allowed, s, float("-inf"))
        # finite: every row sees key 0, in the first block
        m_new = tl.maximum(m, tl.max(s, axis=1))
        alpha = tl.exp(m - m_new)  # rescales l and acc; 0 at first
        p = tl.exp(s - m_new[:, None])
        l = l * alpha + tl.sum(p, axis=1)
        pv = tl.dot(p.to(v.dtype), v, input_precision=PRECISION)
        acc = acc * alpha[:, None] + pv
        m = m_new

    l = tl.where(l > 0, l, 1.0)  # S = 0: a zero output, never 0 / 0
    out = acc / l[:, None]
    o_ptrs = O + b * sob + h * soh + rows[:, None] * sol + fv[None, :]
    o_mask = (rows[:, None] < L) & (fv[None, :] < EV)
    tl.store(o_ptrs, out.to(O.dtype.element_ty), mask=o_mask)
    tl.store(LSE + bh * L + rows, m + tl.log(l), mask=rows < L)


@triton.jit
def _weights(q, k, lse, rows, keys, scale, L, S, CAUSAL: tl.constexpr,
             PRECISION: tl.constexpr):
    """``P = exp(q k^T * scale - lse)``, 0 where a query may not see a key."""
    s = tl.dot(q, tl.trans(k), input_precision=PRECISION) * scale
    allowed = (rows[:, None] < L) & (keys[None, :] < S)
    if CAUSAL:
        allowed = allowed & (keys[None, :] <= rows[:, None])
    return tl.where(allowed, tl.exp(s - lse[:, None]), 0.0)


@triton.jit
def _rows(LSE, DELTA, bh, rows, L):
    """The saved log-sum-exp and ``delta`` of a block of queries."""
    lse = tl.load(LSE + bh * L + rows, mask=rows < L, other=0.0)
    delta = tl.load(DELTA + bh * L + rows, mask=rows < L, other=0.0)
    return lse, delta


@triton.jit
def backward_dkdv(Q, K, V, DO, LSE, DELTA, DK, DV, scale, H, L, S, E, EV,
                  sqb, sqh, sql, skb, skh, sks, svb, svh, svs,
                  sdb, sdh, sdl,
                  BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                  BLOCK_E: tl.constexpr, BLOCK_EV: tl.constexpr,
                  CAUSAL: tl.constexpr, PRECISION: tl.constexpr):
    start_n = tl.program_id(0)  # which block of keys
    bh = tl.program_id(1)
    b, h = bh // H, bh % H
    keys = start_n * BLOCK_N + tl.arange(0, BLOCK_N)
    fe, fv = tl.arange(0, BLOCK_E), tl.arange(0, BLOCK_EV)
    k = _tile(K + b * skb + h * skh, keys, fe, sks, S, E)
    v = _tile(V + b * svb + h * svh, keys, fv, svs, S, EV)
    Qbh, DObh = Q + b * sqb + h * sqh, DO + b * sdb + h * sdh
    dk = tl.zeros([BLOCK_N, BLOCK_E], tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_EV], tl.float32)
    lo = 0
    if CAUSAL:  # queries before the block's first key see none of it
        lo = (start_n * BLOCK_N) // BLOCK_M * BLOCK_M
    for start_m in range(lo, L, BLOCK_M):
        rows = start_m + tl.arange(0, BLOCK_M)
        q = _tile(Qbh, rows, fe, sql, L, E)  # (BLOCK_M, BLOCK_E)
        do = _tile(DObh, rows, fv, sdl, L, EV)  # (BLOCK_M, BLOCK_EV)
        lse, delta = _rows(LSE, DELTA, bh, rows, L)
        # the weights, recomputed: (BLOCK_M, BLOCK_N)
        p = _weights(q, k, lse, rows, keys, scale, L, S, CAUSAL, PRECISION)
        dv += tl.dot(tl.trans(p).to(do.dtype), do, input_precision=PRECISION)
        dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)
        ds = p * (dp - delta[:, None])
        dk += tl.dot(tl.trans(ds).to(q.dtype), q, input_precision=PRECISION)
    # DK and DV are contiguous (B, H, S, E) and (B, H, S, Ev)
    at = (bh * S + keys[:, None])
    tl.store(DK + at * E + fe[None, :], (dk * scale).to(DK.dtype.element_ty),
             mask=(keys[:, None] < S) & (fe[None, :] < E))
    tl.store(DV + at * EV + fv[None, :], dv.to(DV.dtype.element_ty),
             mask=(keys[:, None] < S) & (fv[None, :] < EV))


@triton.jit
def backward_dq(Q, K, V, DO, LSE, DELTA, DQ, scale, H, L, S, E, EV,
                sqb, sqh, sql, skb, skh, sks, svb, svh, svs, sdb, sdh, sdl,
                BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
                BLOCK_E: tl.constexpr, BLOCK_EV: tl.constexpr,
                CAUSAL: tl.constexpr, PRECISION: tl.constexpr):
    start_m = tl.program_id(0)  # which block of queries
    bh = tl.program_id(1)
    b, h = bh // H, bh % H
    rows = start_m * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = tl.arange(0, BLOCK_N)
    fe, fv = tl.arange(0, BLOCK_E), tl.arange(0, BLOCK_EV)
    q = _tile(Q + b * sqb + h * sqh, rows, fe, sql, L, E)
    do = _tile(DO + b * sdb + h * sdh, rows, fv, sdl, L, EV)
    lse, delta = _rows(LSE, DELTA, bh, rows, L)
    Kbh, Vbh = K + b * skb + h * skh, V + b * svb + h * svh
    dq = tl.zeros([BLOCK_M, BLOCK_E], tl.float32)
    hi = S
    if CAUSAL:
        hi = tl.minimum(S, (start_m + 1) * BLOCK_M)
    for start_n in range(0, hi, BLOCK_N):
        keys = start_n + cols
        k = _tile(Kbh, keys, fe, sks, S, E)
        v = _tile(Vbh, keys, fv, svs, S, EV)
        p = _weights(q, k, lse, rows, keys, scale, L, S, CAUSAL, PRECISION)
        dp = tl.dot(do, tl.trans(v), input_precision=PRECISION)
        ds = p * (dp - delta[:, None])
        dq += tl.dot(ds.to(k.dtype), k, input_precision=PRECISION)
    # DQ is contiguous (B, H, L, E)
    tl.store(DQ + (bh * L + rows[:, None]) * E + fe[None, :],
             (dq * scale).to(DQ.dtype.element_ty),
             mask=(rows[:, None] < L) & (fe[None, :] < E))
