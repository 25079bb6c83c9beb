"""Rotary frequencies for contexts longer than the training ones: PI, NTK-aware, YaRN.

Rotary positions (:func:`attnlib.apply_rotary`) turn feature pair ``i`` at
position ``m`` by ``m w_i`` with ``w_i = base^(-2i/E)``.  A model trained on
``L_train`` positions has seen the angles ``0 .. L_train w_i``; past that, a
slow pair (``L_train w_i < 2 pi``) meets angles it never saw.  Each method here
changes the frequencies so that a longer context maps into angles seen in
training:

- ``"linear"``, position interpolation (Chen et al., 2023): every
  ``w_i / s`` for a scale ``s``, i.e. positions squeezed by ``s``; fast pairs
  are squeezed too, although they had seen every angle already.
- ``"ntk"``, NTK-aware scaling (bloc97, 2023): a larger base,
  ``base * s^(E/(E-2))``: the fastest pair keeps its frequency, the slowest is
  divided by exactly ``s``, those between by less.
- ``"dynamic"``: NTK-aware with the scale taken from the current length,
  ``s = factor * seq_len / L_train - (factor - 1)`` (never below 1).
- ``"yarn"`` (Peng et al., 2024): by wavelength.  A pair that turns more than
  ``beta_fast`` times within ``L_train`` keeps ``w_i``; one that turns less than
  ``beta_slow`` times gets ``w_i / s``; those between a linear blend.  Scores
  are also multiplied by ``attention_scaling^2``, with ``attention_scaling =
  0.1 ln s + 1`` (applied to queries and keys, one factor each).

:func:`rope_frequencies` returns the frequencies and that scaling; they are the
same numbers as ``transformers``' rotary initialisation functions
(``ROPE_INIT_FUNCTIONS["linear" | "dynamic" | "yarn"]``) for the same settings.
"""

from __future__ import annotations

import math

import torch

from . import _checks

METHODS = ("default", "linear", "ntk", "dynamic", "yarn")
"""The valid values of ``method``."""


def _correction_dim(rotations: float, dim: int, base: float, length: int) -> float:
    """The (fractional) pair index whose wave turns ``rotations`` times in ``length`` positions."""
    return dim * math.log(length / (rotations * 2 * math.pi)) / (2 * math.log(base))


def rope_frequencies(dim: int, *, base: float = 10000.0, method: str = "default",
                     factor: float = 1.0, original_max_position: int | None = None,
                     seq_len: int | None = None, beta_fast: float = 32.0,
                     beta_slow: float = 1.0, attention_factor: float | None = None,
                     truncate: bool = True, device=None) -> tuple[torch.Tensor, float]:
    """The rotary frequencies ``w_i`` and the attention scaling for ``method``.

    Args:
        dim: ``E``, the (even) number of rotated features per head.
        base: the unscaled base, ``w_i = base^(-2i/E)``.
        method: one of ``"default"``, ``"linear"``, ``"ntk"``, ``"dynamic"``,
            ``"yarn"`` (see the module's text).
        factor: the scale ``s`` (how much longer the new context is), >= 1.
        original_max_position: ``L_train``, the training length; needed by
            ``"dynamic"`` and ``"yarn"``.
        seq_len: the current length, for ``"dynamic"`` (default ``L_train``,
            which leaves the frequencies as they are).
        beta_fast, beta_slow, attention_factor, truncate: YaRN's settings, as
            in ``transformers`` (``attention_factor`` defaults to
            ``0.1 ln(factor) + 1``).
        device: of the returned frequencies.

    Returns:
        ``(inv_freq, attention_scaling)``: ``inv_freq`` float64 ``(E/2,)`` to
        pass to ``apply_rotary(x, inv_freq=...)``; multiply the rotated queries
        and keys by ``attention_scaling`` (1.0 except for YaRN).

    Shapes:
        - returns: ``(E/2,)`` and a float
    """
    _checks.positive_int(dim, "dim")
    if dim % 2:
        raise ValueError(f"`dim` must be even (features rotate in pairs); got {dim}")
    _checks.positive_number(base, "base")
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {', '.join(map(repr, METHODS))}; "
                         f"got {method!r}")
    _checks.positive_number(factor, "factor")
    if factor < 1:
        raise ValueError(f"`factor` must be >= 1 (the new context is longer); got {factor}")
    if method in ("dynamic", "yarn"):
        if original_max_position is None:
            raise ValueError(f"method {method!r} needs `original_max_position`, "
                             f"the training length")
        _checks.positive_int(original_max_position, "original_max_position")
    exponent = torch.arange(0, dim, 2, dtype=torch.float64, device=device) / dim  # 2i/E
    scaling = 1.0
    if method == "default":
        inv_freq = base ** -exponent
    elif method == "linear":
        inv_freq = base ** -exponent / factor
    elif method in ("ntk", "dynamic"):
        scale = factor
        if method == "dynamic":
            length = max(original_max_position if seq_len is None else seq_len,
                         original_max_position)
            scale = factor * length / original_max_position - (factor - 1)
        inv_freq = (base * scale ** (dim / (dim - 2))) ** -exponent
    else:  # yarn
        extrapolated = base ** -exponent  # (E/2,) the trained frequencies
        interpolated = extrapolated / factor
        low = _correction_dim(beta_fast, dim, base, original_max_position)
        high = _correction_dim(beta_slow, dim, base, original_max_position)
        if truncate:
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001  # as transformers: no division by zero
        index = torch.arange(dim // 2, dtype=torch.float64, device=device)
        ramp = ((index - low) / (high - low)).clamp(0, 1)  # 0: keep w_i, 1: w_i / s
        inv_freq = extrapolated * (1 - ramp) + interpolated * ramp
        if attention_factor is None:
            attention_factor = 0.1 * math.log(factor) + 1.0 if factor > 1 else 1.0
        scaling = float(attention_factor)
    return inv_freq, scaling
