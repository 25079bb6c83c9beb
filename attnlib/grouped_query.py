"""Grouped-query and multi-query attention (Shazeer, 2019; Ainslie et al., 2023).

Multi-head attention gives each of its ``H`` query heads its own key and value
head, and a decoder's KV cache stores all ``H`` of them.  Grouped-query
attention keeps ``G`` key-value heads, ``G`` dividing ``H``; the ``H/G``
neighbouring query heads ``h = g H/G, ..., (g + 1) H/G - 1`` share head ``g``:

.. math::

    \\operatorname{head}_h = \\operatorname{softmax}\\!\\left(
        \\frac{(X W^Q_h)(X W^K_{g(h)})^\\top}{\\sqrt{d}}\\right) X W^V_{g(h)},
    \\qquad g(h) = \\lfloor h / (H/G) \\rfloor .

``G = H`` is multi-head attention, ``G = 1`` multi-query attention; the cache
holds ``2 G d`` numbers per token and layer instead of ``2 H d``.

The parameters are laid out as ``transformers``' ``LlamaAttention``: ``q_proj``
``(H d, E)``, ``k_proj`` and ``v_proj`` ``(G d, E)``, ``o_proj`` ``(E, H d)``,
``d = E/H``, so its ``state_dict`` loads here with ``strict=True``.  Positions are
not this module's business (Llama rotates queries and keys before attending; here
a model adds them where it likes).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from . import _checks
from .dot_product import scaled_dot_product_attention


def check_heads(embed_dim, num_heads, num_kv_heads) -> None:
    """The checks every grouped-query module starts with (shared with the sliding window)."""
    _checks.positive_int(embed_dim, "embed_dim")
    _checks.positive_int(num_heads, "num_heads")
    _checks.positive_int(num_kv_heads, "num_kv_heads")
    if embed_dim % num_heads:
        raise ValueError(f"`embed_dim` must be divisible by `num_heads` (each head gets E/H "
                         f"features); got embed_dim {embed_dim}, num_heads {num_heads}")
    if num_heads % num_kv_heads:
        raise ValueError(f"`num_heads` must be a multiple of `num_kv_heads` (each key-value "
                         f"head serves H/G query heads); got num_heads {num_heads}, "
                         f"num_kv_heads {num_kv_heads}")


def check_input(x, module: nn.Module, embed_dim: int, mask, is_causal) -> None:
    """``x`` a floating ``(B, L, E)`` tensor on the module's dtype and device."""
    _checks.tensor(x, "x")
    _checks.floating(x, "x")
    _checks.rank(x, "x", "(B, L, E)", exact=3)
    _checks.size(x, "x", -1, embed_dim, "last dim E (embed_dim)")
    _checks.matches_module(x, "x", module)
    _checks.boolean(is_causal, "is_causal")
    if mask is not None:
        _checks.mask(mask, (x.shape[0], 1, x.shape[1], x.shape[1]), "(B, 1, L, L)", x.device)


def padding_free_causal(start: int, end: int, device) -> torch.Tensor:
    """``(T, end)`` mask: new token ``i`` at position ``start + i`` sees positions ``0..start+i``."""
    return (torch.arange(end, device=device)[None, :]
            <= torch.arange(start, end, device=device)[:, None])


@dataclass
class KVState:
    """One layer's cached keys and values; rows ``0..length-1`` are filled.

    Shapes:
        - keys, values: ``(B, G, capacity, d)``
    """

    keys: torch.Tensor
    values: torch.Tensor


class GroupedQueryAttention(nn.Module):
    """Self-attention with ``num_heads`` query heads sharing ``num_kv_heads`` key-value heads.

    Args:
        embed_dim: ``E``; num_heads: ``H`` (divides ``E``; head size ``d = E/H``).
        num_kv_heads: ``G``, dividing ``H``: ``H`` is multi-head, ``1`` multi-query.
        bias: biases on the four projections (Llama has none).

    Shapes:
        - x: ``(B, L, E)``
        - mask: broadcastable to ``(B, 1, L, L)``, ``True`` = may attend (every head)
        - returns: ``(B, L, E)``
    """

    def __init__(self, embed_dim: int, num_heads: int, num_kv_heads: int, *,
                 bias: bool = False):
        super().__init__()
        check_heads(embed_dim, num_heads, num_kv_heads)
        _checks.boolean(bias, "bias")
        self.embed_dim, self.num_heads, self.num_kv_heads = embed_dim, num_heads, num_kv_heads
        self.head_dim = embed_dim // num_heads
        d = self.head_dim
        self.q_proj = nn.Linear(embed_dim, num_heads * d, bias=bias)
        self.k_proj = nn.Linear(embed_dim, num_kv_heads * d, bias=bias)
        self.v_proj = nn.Linear(embed_dim, num_kv_heads * d, bias=bias)
        self.o_proj = nn.Linear(num_heads * d, embed_dim, bias=bias)

    def _heads(self, y: torch.Tensor, n: int) -> torch.Tensor:
        """``(B, L, n d) -> (B, n, L, d)``."""
        B, L, _ = y.shape
        return y.view(B, L, n, self.head_dim).transpose(1, 2)  # (B, L, n, d) -> (B, n, L, d)

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Queries ``(B, H, L, d)``, keys and values ``(B, G, L, d)``."""
        return (self._heads(self.q_proj(x), self.num_heads),
                self._heads(self.k_proj(x), self.num_kv_heads),
                self._heads(self.v_proj(x), self.num_kv_heads))

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               mask: torch.Tensor | None) -> torch.Tensor:
        """Rule 3 with each key-value head repeated for its ``H/G`` query heads, then ``o_proj``.

        Shapes:
            - q: ``(B, H, L, d)``; k, v: ``(B, G, S, d)``; mask: to ``(B, 1, L, S)``
            - returns: ``(B, L, E)``
        """
        group = self.num_heads // self.num_kv_heads
        B, H, L, S, d = *q.shape[:3], k.shape[2], self.head_dim
        # (B, G, S, d) -> (B, G, H/G, S, d) -> (B, H, S, d): a view, then one copy
        k = k[:, :, None].expand(B, self.num_kv_heads, group, S, d).reshape(B, H, S, d)
        v = v[:, :, None].expand(B, self.num_kv_heads, group, S, d).reshape(B, H, S, d)
        heads, _ = scaled_dot_product_attention(q, k, v, mask, need_weights=False)
        return self.o_proj(heads.transpose(1, 2).reshape(B, L, H * d))  # (B, H, L, d) -> (B, L, E)

    def forward(self, x: torch.Tensor, *, mask: torch.Tensor | None = None,
                is_causal: bool = False) -> torch.Tensor:
        """Self-attention of ``x`` (see the class docstring); ``is_causal`` adds ``causal_mask``."""
        check_input(x, self, self.embed_dim, mask, is_causal)
        q, k, v = self.project(x)
        if is_causal:
            causal = padding_free_causal(0, x.shape[1], x.device)
            mask = causal if mask is None else mask & causal
        return self.attend(q, k, v, mask)

    # ------------------------------------------------------------------ decoding
    def new_state(self, batch_size: int, capacity: int) -> KVState:
        """An empty cache for ``capacity`` tokens: ``2 G d`` numbers per token."""
        p = self.o_proj.weight
        shape = (batch_size, self.num_kv_heads, capacity, self.head_dim)
        return KVState(p.new_zeros(shape), p.new_zeros(shape))

    def forward_cached(self, x: torch.Tensor, state: KVState, start: int) -> torch.Tensor:
        """New tokens ``x`` ``(B, T, E)`` at positions ``start..start+T-1``, causal.

        Writes their keys and values into rows ``start..start+T-1`` of ``state``
        and attends over rows ``0..start+T-1``; equals the last ``T`` rows of
        ``forward(whole, is_causal=True)``.
        """
        q, k, v = self.project(x)
        end = start + x.shape[1]
        state.keys[:, :, start:end] = k
        state.values[:, :, start:end] = v
        mask = padding_free_causal(start, end, x.device)  # (T, end)
        return self.attend(q, state.keys[:, :, :end], state.values[:, :, :end], mask)

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, "
                f"num_kv_heads={self.num_kv_heads}")


@torch.no_grad()
def mha_to_gqa(module: GroupedQueryAttention, num_kv_heads: int) -> GroupedQueryAttention:
    """Ainslie et al.'s conversion: mean-pool each group's key and value heads.

    Key-value head ``g`` of the result is the mean of heads ``g H/G' .. (g + 1) H/G' - 1``
    of ``module`` (their projection rows averaged); queries and the output projection
    are copied.  Applied to a multi-head checkpoint (``G = H``) it gives the
    starting point that Ainslie et al. "uptrain" for a few per cent of the original
    steps.  ``num_kv_heads`` must divide ``module.num_kv_heads``.

    Shapes:
        - ``k_proj.weight``, ``v_proj.weight``: ``(G d, E) -> (G' d, E)``; the module
          maps ``(B, L, E) -> (B, L, E)`` as before
    """
    if not isinstance(module, GroupedQueryAttention):
        raise TypeError(f"`module` must be a GroupedQueryAttention; got {type(module).__name__}")
    _checks.positive_int(num_kv_heads, "num_kv_heads")
    if module.num_kv_heads % num_kv_heads:
        raise ValueError(f"`num_kv_heads` must divide the module's {module.num_kv_heads} "
                         f"key-value heads (whole groups are pooled); got {num_kv_heads}")
    bias = module.q_proj.bias is not None
    out = GroupedQueryAttention(module.embed_dim, module.num_heads, num_kv_heads, bias=bias)
    out = out.to(module.o_proj.weight)
    out.q_proj.load_state_dict(module.q_proj.state_dict())
    out.o_proj.load_state_dict(module.o_proj.state_dict())
    pool = module.num_kv_heads // num_kv_heads
    for name in ("k_proj", "v_proj"):
        old, new = getattr(module, name), getattr(out, name)
        # (G d, E) -> (G', pool, d, E) -> mean over the pool -> (G' d, E)
        w = old.weight.view(num_kv_heads, pool, module.head_dim, -1).mean(1)
        new.weight.copy_(w.reshape(new.weight.shape))
        if bias:
            new.bias.copy_(old.bias.view(num_kv_heads, pool, -1).mean(1).reshape(-1))
    return out
