"""FlashAttention in Triton: rule 3 in fused kernels, forward and backward.

:func:`flash_attention` computes ``softmax(query @ key^T * scale) @ value``
the way :func:`attnlib.tiled_attention` does -- one block of keys at a time,
with an online softmax -- but inside GPU kernels written in Triton (Tillet et
al., 2019), with blocks of queries too (Dao et al., 2022; Dao, 2023).  The
``(L, S)`` scores and weights never reach memory, in the forward pass or the
backward pass: the forward saves one log-sum-exp per query row, and the
backward recomputes the weights from it.  The kernels are in
:mod:`attnlib._flash_kernels`.

Triton is optional: install it with ``pip install "attnlib[kernels]"``.
``import attnlib`` never imports it; the first call does.  The kernels run
compiled on a CUDA GPU, or on any machine through Triton's interpreter, which
executes every program of the grid one after the other with NumPy: set the
environment variable ``TRITON_INTERPRET=1`` before the first call (before
Triton is imported), and pass CPU tensors.  The interpreter is slow, made for
checking, not for timing.
"""

from __future__ import annotations

import torch

from . import _checks

_LEGENDS = ("(B, H, L, E)", "(B, H, S, E)", "(B, H, S, Ev)")
_DTYPES = (torch.float32, torch.float16, torch.bfloat16)
_MAX_FEATURES = 256


def flash_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, *,
                    is_causal: bool = False, scale: float | None = None,
                    block_m: int = 64, block_n: int = 64) -> torch.Tensor:
    """Rule 3 in Triton kernels, differentiable; equal to PyTorch's SDPA up to rounding.

    The same result as
    :func:`torch.nn.functional.scaled_dot_product_attention` with the same
    ``is_causal`` and ``scale``, and the same gradients, for any ``L``, ``S``
    and feature sizes up to 256.

    Args:
        query, key, value: tensors of one dtype (float32, float16 or bfloat16)
            on one device: CUDA, or the CPU when ``TRITON_INTERPRET=1`` was set
            before the first call.
        is_causal: query ``i`` sees keys ``0..i`` (top-left aligned, as in
            PyTorch); the kernels skip the blocks above the diagonal.
        scale: multiplies the scores; default ``1 / sqrt(E)``.
        block_m, block_n: queries and keys per block (powers of two, at least
            16): the tile each program holds.

    Raises:
        ImportError: Triton is not installed (the extra ``attnlib[kernels]``).

    Shapes:
        - query: ``(B, H, L, E)``
        - key: ``(B, H, S, E)``
        - value: ``(B, H, S, Ev)``
        - returns: ``(B, H, L, Ev)``
    """
    _checks.qkv(query, key, value, legends=_LEGENDS, exact_rank=4)
    _checks.dim_equal(query, "query", -1, key, "key", -1, "last dim E")
    if query.dtype not in _DTYPES:
        raise TypeError(f"`query` must be float32, float16 or bfloat16 for the Triton kernels; "
                        f"got dtype {query.dtype} (convert it with query.float())")
    for name, n in (("query", query.shape[-1]), ("value", value.shape[-1])):
        if n > _MAX_FEATURES:
            raise ValueError(f"`{name}` must have a last dim of at most {_MAX_FEATURES} "
                             f"for the kernels; got {n}")
    for name, n in (("block_m", block_m), ("block_n", block_n)):
        _checks.positive_int(n, name)
        if n < 16 or n & (n - 1):
            raise ValueError(f"`{name}` must be a power of two, at least 16; got {n}")
    _checks.boolean(is_causal, "is_causal")
    scale = float(_checks.scale_or_default(scale, query.shape[-1]))
    kernels = _load_kernels()
    if query.device.type != "cuda" and not _interpreted(kernels):
        raise ValueError(
            f"`query` is on {query.device}: the Triton kernels run on a CUDA GPU, or on the "
            "CPU through Triton's interpreter, which needs TRITON_INTERPRET=1 in the "
            "environment before the first call")
    return _FlashAttention.apply(query, key, value, is_causal, scale, (block_m, block_n))


def _load_kernels():
    """The kernel module; a clear ImportError that names the extra when Triton is missing."""
    try:
        from . import _flash_kernels
    except ImportError as err:
        raise ImportError(
            "attnlib.flash_attention needs Triton: pip install \"attnlib[kernels]\" "
            f"(or pip install triton); importing it failed with: {err}") from None
    return _flash_kernels


def _interpreted(kernels) -> bool:
    """Whether the kernels were made for Triton's interpreter (TRITON_INTERPRET=1 at import)."""
    return type(kernels.forward).__name__ == "InterpretedFunction"


def _meta(q, v, is_causal, blocks) -> dict:
    """The ``constexpr`` arguments every kernel takes."""
    import triton

    E, Ev = q.shape[-1], v.shape[-1]
    return dict(BLOCK_M=blocks[0], BLOCK_N=blocks[1],
                BLOCK_E=max(16, triton.next_power_of_2(E)),
                BLOCK_EV=max(16, triton.next_power_of_2(Ev)), CAUSAL=is_causal,
                # float32 stays float32 (no TF32 rounding) so results match PyTorch's
                PRECISION="ieee" if q.dtype == torch.float32 else None)


def _strides(*tensors) -> tuple[int, ...]:
    """The batch, head and row strides of each ``(B, H, rows, features)`` tensor."""
    return tuple(s for t in tensors for s in t.stride()[:3])


class _FlashAttention(torch.autograd.Function):
    """Forward: output and log-sum-exp; backward: recompute the weights tile by tile."""

    @staticmethod
    def forward(ctx, query, key, value, is_causal, scale, blocks):
        kernels = _load_kernels()
        # the kernels read rows with any stride, but features one after the other
        q, k, v = (t if t.stride(-1) == 1 else t.contiguous() for t in (query, key, value))
        B, H, L, E = q.shape
        S, Ev = k.shape[2], v.shape[3]
        out = torch.empty((B, H, L, Ev), dtype=q.dtype, device=q.device)
        lse = torch.empty((B, H, L), dtype=torch.float32, device=q.device)
        meta = _meta(q, v, is_causal, blocks)
        if out.numel() and S:
            grid = (-(-L // blocks[0]), B * H)
            kernels.forward[grid](q, k, v, out, lse, scale, H, L, S, E, Ev,
                                  *_strides(q, k, v, out), **meta)
        else:  # nothing to attend to, or nothing asked: an empty or zero output
            out.zero_()
            lse.fill_(float("-inf"))
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.scale, ctx.meta, ctx.blocks = scale, meta, blocks
        return out

    @staticmethod
    def backward(ctx, grad_out):
        kernels = _load_kernels()
        q, k, v, out, lse = ctx.saved_tensors
        B, H, L, E = q.shape
        S, Ev = k.shape[2], v.shape[3]
        do = grad_out if grad_out.stride(-1) == 1 else grad_out.contiguous()
        # delta_i = sum_j P_ij dP_ij = rowsum(dO * O): an (L, Ev) product, no (L, S)
        delta = (do.float() * out.float()).sum(-1).contiguous()  # (B, H, L)
        dq = torch.zeros_like(q, memory_format=torch.contiguous_format)
        dk = torch.zeros_like(k, memory_format=torch.contiguous_format)
        dv = torch.zeros_like(v, memory_format=torch.contiguous_format)
        if L and S and B * H:
            args = (q, k, v, do, lse, delta)
            strides = _strides(q, k, v, do)
            bm, bn = ctx.blocks
            kernels.backward_dkdv[(-(-S // bn), B * H)](
                *args, dk, dv, ctx.scale, H, L, S, E, Ev, *strides, **ctx.meta)
            kernels.backward_dq[(-(-L // bm), B * H)](
                *args, dq, ctx.scale, H, L, S, E, Ev, *strides, **ctx.meta)
        return dq, dk, dv, None, None, None
