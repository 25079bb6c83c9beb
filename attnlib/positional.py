"""The sinusoidal positional encoding of Vaswani et al. (2017).

Attention by itself does not know the order of its inputs: permute the rows of
``X`` and self-attention's output rows are permuted the same way.  Adding (or
concatenating) a position-dependent vector to every row breaks that symmetry.
The sinusoidal encoding uses, for ``i = 0, 1, ..., ceil(dim/2) - 1``,

.. math::

    \\omega_i = \\text{base}^{-2i/\\text{dim}}, \\qquad
    PE(p, 2i) = \\sin(p\\,\\omega_i), \\qquad PE(p, 2i+1) = \\cos(p\\,\\omega_i),

so each pair of columns is a point moving round a circle at its own speed.
Moving ``k`` positions on is then a rotation of every pair by ``k\\,\\omega_i``:
a linear map that depends on ``k`` but not on ``p``.
"""

from __future__ import annotations

import torch

from . import _checks


def sinusoidal_positional_encoding(length: int, dim: int, *, base: float = 10000.0,
                                   dtype: torch.dtype | None = None,
                                   device: torch.device | str | None = None) -> torch.Tensor:
    """The ``(length, dim)`` table ``PE(p, 2i) = sin(p w_i)``, ``PE(p, 2i+1) = cos(p w_i)``.

    Args:
        length: number of positions ``p = 0, ..., length - 1``; 0 gives an
            empty ``(0, dim)`` table.
        dim: feature size; an odd ``dim`` ends with a sine column whose cosine
            partner is left out.
        base: sets the slowest frequency, ``w_i = base ** (-2i / dim)``; 10000 in
            the Transformer paper.
        dtype: a floating-point dtype; default ``torch.get_default_dtype()``.  The
            table is computed in float64 and then converted, so large positions
            stay accurate.
        device: where the table is made; default the CPU.

    Returns:
        the encoding, one row per position.

    Shapes:
        - returns: ``(length, dim)``

    Example:
        >>> pe = sinusoidal_positional_encoding(3, 4)
        >>> pe[0].tolist()
        [0.0, 1.0, 0.0, 1.0]
    """
    _checks.non_negative_int(length, "length")
    _checks.positive_int(dim, "dim")
    _checks.positive_number(base, "base")
    if dtype is None:
        dtype = torch.get_default_dtype()
    elif not isinstance(dtype, torch.dtype):
        raise TypeError(f"`dtype` must be a torch.dtype such as torch.float32; "
                        f"got {type(dtype).__name__} {dtype!r}")
    elif not dtype.is_floating_point:
        raise TypeError(f"`dtype` must be a floating-point dtype; got {dtype}")
    position = torch.arange(length, dtype=torch.float64)  # (length,)
    i2 = torch.arange(0, dim, 2, dtype=torch.float64)  # (n,): the even dims 2i, n = ceil(dim/2)
    omega = float(base) ** (-i2 / dim)  # (n,)
    angle = position[:, None] * omega[None, :]  # (length, 1) * (1, n) -> (length, n)
    pe = torch.empty(length, dim, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(angle)
    pe[:, 1::2] = torch.cos(angle[:, : dim // 2])  # odd dim: no cosine for the last frequency
    return pe.to(device=device, dtype=dtype)
