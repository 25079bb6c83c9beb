"""The Transformer's encoder and decoder layers (Vaswani et al., 2017), from attnlib's parts.

An encoder layer is two sublayers, each wrapped in a residual connection and a
layer norm: multi-head self-attention, then a position-wise feed-forward network
``linear2(activation(linear1(x)))``.  A decoder layer puts a third sublayer in
between: multi-head *cross*-attention, whose queries are the decoder's states and
whose keys and values are the encoder's outputs (``memory``).

Where the norm goes is the one design choice:

- post-LN (``norm_first=False``, the original): ``x = norm(x + sublayer(x))``;
- pre-LN (``norm_first=True``): ``x = x + sublayer(norm(x))``, which keeps an
  un-normalised path from the input to the output and trains more stably
  without a learning-rate warm-up (Xiong et al., 2020).

The submodules have ``torch.nn.TransformerEncoderLayer``'s and
``torch.nn.TransformerDecoderLayer``'s names (``self_attn``, ``multihead_attn``,
``linear1``, ``linear2``, ``norm1``..``norm3``), so their ``state_dict`` (made with
``batch_first=True``) loads here with ``strict=True`` and gives the same outputs.
Masks keep attnlib's meaning: boolean, ``True`` = may attend.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import _checks
from .multihead import MultiHeadAttention

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _check_args(d_model, nhead, dim_feedforward, dropout, activation, norm_first,
                layer_norm_eps, rotary) -> None:
    _checks.positive_int(d_model, "d_model")
    _checks.positive_int(nhead, "nhead")
    if d_model % nhead:
        raise ValueError(f"`d_model` must be divisible by `nhead` (each head gets d_model/nhead "
                         f"features); got d_model {d_model}, nhead {nhead}")
    _checks.positive_int(dim_feedforward, "dim_feedforward")
    _checks.probability(dropout, "dropout")
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"`activation` must be 'relu' or 'gelu'; got {activation!r}")
    _checks.boolean(norm_first, "norm_first")
    _checks.positive_number(layer_norm_eps, "layer_norm_eps")
    _checks.boolean(rotary, "rotary")
    if rotary and (d_model // nhead) % 2:
        raise ValueError(f"`rotary` needs an even head size d_model/nhead (features rotate in "
                         f"pairs); got d_model {d_model}, nhead {nhead}")


def _self_attention(d_model: int, nhead: int, dropout: float, rotary: bool) -> nn.Module:
    if rotary:
        from .rotary import RotaryMultiHeadAttention  # rotary imports this module's parts
        return RotaryMultiHeadAttention(d_model, nhead, dropout=dropout)
    return MultiHeadAttention(d_model, nhead, dropout=dropout)


class _Layer(nn.Module):
    """What both layers share: the feed-forward sublayer, the norms, the arguments."""

    def _setup(self, d_model, nhead, dim_feedforward, dropout, activation, norm_first,
               layer_norm_eps, rotary, n_norms: int) -> None:
        _check_args(d_model, nhead, dim_feedforward, dropout, activation, norm_first,
                    layer_norm_eps, rotary)
        self.d_model, self.nhead, self.dim_feedforward = d_model, nhead, dim_feedforward
        self.dropout_p, self.activation_name = float(dropout), activation
        self.norm_first, self.rotary = norm_first, rotary
        self.activation = ACTIVATIONS[activation]
        self.self_attn = _self_attention(d_model, nhead, dropout, rotary)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        for i in range(1, n_norms + 1):
            setattr(self, f"norm{i}", nn.LayerNorm(d_model, eps=layer_norm_eps))
            setattr(self, f"dropout{i}", nn.Dropout(dropout))

    def _check_input(self, x, name: str) -> None:
        _checks.tensor(x, name)
        _checks.floating(x, name)
        _checks.rank(x, name, "(B, L, E)", exact=3)
        _checks.size(x, name, -1, self.d_model, "last dim E (d_model)")
        _checks.matches_module(x, name, self)

    def _ff_block(self, x: torch.Tensor) -> torch.Tensor:
        """``linear2(dropout(activation(linear1(x))))``: ``(B, L, E) -> (B, L, E)``."""
        return self.linear2(self.dropout(self.activation(self.linear1(x))))

    def extra_repr(self) -> str:
        return (f"d_model={self.d_model}, nhead={self.nhead}, "
                f"dim_feedforward={self.dim_feedforward}, dropout={self.dropout_p}, "
                f"activation={self.activation_name!r}, norm_first={self.norm_first}"
                + (", rotary=True" if self.rotary else ""))


class TransformerEncoderLayer(_Layer):
    """Self-attention, then a feed-forward network, each with a residual and a layer norm.

    Args:
        d_model: ``E``, the feature size of the input and output.
        nhead: ``H``, the number of attention heads; must divide ``d_model``.
        dim_feedforward: the hidden size of the feed-forward network.
        dropout: on the attention weights, inside the feed-forward network and on
            each sublayer's output (training mode only).
        activation: ``"relu"`` or ``"gelu"``.
        norm_first: pre-LN (``True``) or post-LN (``False``, the original).
        layer_norm_eps: the layer norms' ``eps``.
        rotary: rotate queries and keys by their positions
            (:func:`attnlib.apply_rotary`) inside the self-attention.  Not in
            PyTorch; the parameters are the same either way.

    Shapes:
        - src: ``(B, L, E)``
        - mask: broadcastable to ``(B, H, L, L)``, ``True`` = may attend; e.g.
          ``(L, L)``, or ``(B, 1, L)`` for key padding
        - output: ``(B, L, E)``
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str = "relu", *, norm_first: bool = False,
                 layer_norm_eps: float = 1e-5, rotary: bool = False):
        super().__init__()
        self._setup(d_model, nhead, dim_feedforward, dropout, activation, norm_first,
                    layer_norm_eps, rotary, n_norms=2)

    def forward_with_weights(self, src: torch.Tensor, mask: torch.Tensor | None = None, *,
                             is_causal: bool = False
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Like :meth:`forward`, and also return the self-attention weights ``(B, H, L, L)``."""
        return self._forward(src, mask, is_causal, need_weights=True)

    def forward(self, src: torch.Tensor, mask: torch.Tensor | None = None, *,
                is_causal: bool = False) -> torch.Tensor:
        """``(B, L, E) -> (B, L, E)``; ``is_causal=True`` adds :func:`attnlib.causal_mask`
        (combined with ``mask`` if one is given)."""
        return self._forward(src, mask, is_causal, need_weights=False)[0]

    def _forward(self, src, mask, is_causal, need_weights):
        self._check_input(src, "src")
        _checks.boolean(is_causal, "is_causal")
        sa = dict(need_weights=need_weights, is_causal=is_causal)
        x = src
        if self.norm_first:
            a, w = self.self_attn(*(self.norm1(x),) * 3, mask, **sa)
            x = x + self.dropout1(a)
            x = x + self.dropout2(self._ff_block(self.norm2(x)))
        else:
            a, w = self.self_attn(x, x, x, mask, **sa)
            x = self.norm1(x + self.dropout1(a))
            x = self.norm2(x + self.dropout2(self._ff_block(x)))
        return x, w


class TransformerDecoderLayer(_Layer):
    """Self-attention, cross-attention to ``memory``, then a feed-forward network.

    The arguments are those of :class:`TransformerEncoderLayer`; with
    ``rotary=True`` only the self-attention rotates (query and key positions of
    cross-attention count in different sequences).

    Shapes:
        - tgt: ``(B, L, E)``; memory: ``(B, S, E)``
        - tgt_mask: broadcastable to ``(B, H, L, L)``, ``True`` = may attend
        - memory_mask: broadcastable to ``(B, H, L, S)``, e.g. ``(B, 1, S)`` for
          the encoder's padding
        - output: ``(B, L, E)``
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str = "relu", *, norm_first: bool = False,
                 layer_norm_eps: float = 1e-5, rotary: bool = False):
        super().__init__()
        self._setup(d_model, nhead, dim_feedforward, dropout, activation, norm_first,
                    layer_norm_eps, rotary, n_norms=3)
        self.multihead_attn = MultiHeadAttention(d_model, nhead, dropout=dropout)

    def forward(self, tgt: torch.Tensor, memory: torch.Tensor,
                tgt_mask: torch.Tensor | None = None, memory_mask: torch.Tensor | None = None,
                *, tgt_is_causal: bool = False) -> torch.Tensor:
        """``(B, L, E), (B, S, E) -> (B, L, E)``; ``tgt_is_causal=True`` adds the causal mask."""
        return self._forward(tgt, memory, tgt_mask, memory_mask, tgt_is_causal, False)[0]

    def forward_with_weights(self, tgt: torch.Tensor, memory: torch.Tensor,
                             tgt_mask: torch.Tensor | None = None,
                             memory_mask: torch.Tensor | None = None, *,
                             tgt_is_causal: bool = False
                             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Like :meth:`forward`; also return the self-attention weights ``(B, H, L, L)``
        and the cross-attention weights ``(B, H, L, S)``."""
        return self._forward(tgt, memory, tgt_mask, memory_mask, tgt_is_causal, True)

    def _forward(self, tgt, memory, tgt_mask, memory_mask, tgt_is_causal, need_weights):
        self._check_input(tgt, "tgt")
        self._check_input(memory, "memory")
        _checks.dim_equal(tgt, "tgt", 0, memory, "memory", 0, "batch size B (dim 0)")
        _checks.boolean(tgt_is_causal, "tgt_is_causal")
        sa = dict(need_weights=need_weights, is_causal=tgt_is_causal)
        x = tgt
        if self.norm_first:
            h = self.norm1(x)
            a, w_self = self.self_attn(h, h, h, tgt_mask, **sa)
            x = x + self.dropout1(a)
            c, w_cross = self.multihead_attn(self.norm2(x), memory, memory, memory_mask,
                                             need_weights=need_weights)
            x = x + self.dropout2(c)
            x = x + self.dropout3(self._ff_block(self.norm3(x)))
        else:
            a, w_self = self.self_attn(x, x, x, tgt_mask, **sa)
            x = self.norm1(x + self.dropout1(a))
            c, w_cross = self.multihead_attn(x, memory, memory, memory_mask,
                                             need_weights=need_weights)
            x = self.norm2(x + self.dropout2(c))
            x = self.norm3(x + self.dropout3(self._ff_block(x)))
        return x, w_self, w_cross
