"""Input validation shared by every public function and module of attnlib.

Readers learn from the error they get, so every check here raises a
``TypeError`` (wrong kind of thing) or ``ValueError`` (right kind, wrong
value or shape) whose message names the argument, says what was expected in
the shape legend (``B``, ``H``, ``L``, ``S``, ``E``, ``Ev``) and shows what
came.  Nothing here changes its inputs.
"""

from __future__ import annotations

import math
import numbers

import torch


def _shape(x: torch.Tensor) -> str:
    """Format a shape as ``(2, 4, 8)`` rather than ``torch.Size([2, 4, 8])``."""
    dims = ", ".join(str(d) for d in x.shape)
    return f"({dims},)" if x.dim() == 1 else f"({dims})"


def tensor(x, name: str) -> torch.Tensor:
    """Require a ``torch.Tensor`` and return it."""
    if not isinstance(x, torch.Tensor):
        hint = ""
        if hasattr(x, "shape") and hasattr(x, "dtype"):
            hint = " (convert it with torch.as_tensor(...))"
        raise TypeError(f"`{name}` must be a torch.Tensor; got {type(x).__name__}{hint}")
    return x


def floating(x: torch.Tensor, name: str) -> None:
    """Require a floating-point tensor."""
    if not x.is_floating_point():
        raise TypeError(
            f"`{name}` must be a floating-point tensor; got dtype {x.dtype}"
            f" (convert it with {name}.float())"
        )


def rank(x: torch.Tensor, name: str, legend: str, *, exact: int | None = None,
         at_least: int | None = None) -> None:
    """Require ``x.dim() == exact`` or ``x.dim() >= at_least``."""
    if exact is not None and x.dim() != exact:
        raise ValueError(
            f"`{name}` must be {exact}-D with shape {legend}; got {x.dim()}-D shape {_shape(x)}"
        )
    if at_least is not None and x.dim() < at_least:
        raise ValueError(
            f"`{name}` must be at least {at_least}-D with shape {legend}; "
            f"got {x.dim()}-D shape {_shape(x)}"
        )


def dim_equal(a: torch.Tensor, a_name: str, a_dim: int, b: torch.Tensor, b_name: str,
              b_dim: int, what: str, hint: str = "") -> None:
    """Require ``a.shape[a_dim] == b.shape[b_dim]``; ``what`` names the size, e.g. 'last dim E'."""
    if a.shape[a_dim] != b.shape[b_dim]:
        raise ValueError(
            f"`{b_name}` must have the same {what} as `{a_name}`; "
            f"got {a_name} {_shape(a)}, {b_name} {_shape(b)}{hint}"
        )


def size(x: torch.Tensor, name: str, dim: int, expected: int, what: str,
         hint: str = "") -> None:
    """Require ``x.shape[dim] == expected``."""
    if x.shape[dim] != expected:
        raise ValueError(
            f"`{name}` must have {what} = {expected}; got shape {_shape(x)}{hint}"
        )


def batch_dims(tensors: dict[str, torch.Tensor], n: int) -> None:
    """Require the leading dims (all but the last ``n``) of the tensors to be equal."""
    items = list(tensors.items())
    first_name, first = items[0]
    for name, x in items[1:]:
        if x.shape[:-n] != first.shape[:-n]:
            raise ValueError(
                f"`{name}` must have the same batch dims as `{first_name}`; got "
                + ", ".join(f"{k} {_shape(v)}" for k, v in items)
            )


def same_dtype_device(tensors: dict[str, torch.Tensor]) -> None:
    """Require every tensor to share the first one's dtype and device."""
    items = list(tensors.items())
    first_name, first = items[0]
    for name, x in items[1:]:
        if x.dtype != first.dtype:
            raise TypeError(
                f"`{name}` must have the same dtype as `{first_name}`; got {first_name} "
                f"{first.dtype}, {name} {x.dtype} (convert with .to({first.dtype}))"
            )
        if x.device != first.device:
            raise ValueError(
                f"`{name}` must be on the same device as `{first_name}`; got {first_name} on "
                f"{first.device}, {name} on {x.device} (move it with .to({first_name}.device))"
            )


def mask(m, scores_shape: tuple[int, ...], legend: str, device: torch.device,
         name: str = "mask") -> torch.Tensor:
    """Require a boolean mask broadcastable to ``scores_shape`` on ``device``."""
    tensor(m, name)
    if m.dtype != torch.bool:
        raise TypeError(
            f"`{name}` must be a boolean tensor (True = may attend); got dtype {m.dtype}. "
            f"Convert a 0/1 mask with {name}.bool(); to add a float bias, add it to the scores"
        )
    if m.device != device:
        raise ValueError(
            f"`{name}` must be on the same device as the scores; got {name} on {m.device}, "
            f"scores on {device}"
        )
    try:
        out = torch.broadcast_shapes(m.shape, scores_shape)
    except RuntimeError:
        out = None
    if out != torch.Size(scores_shape):
        scores = "(" + ", ".join(str(d) for d in scores_shape) + ")"
        raise ValueError(
            f"`{name}` must be broadcastable to the scores' shape {legend} = {scores}; "
            f"got {name} {_shape(m)}"
        )
    return m


def matches_module(x: torch.Tensor, name: str, module: torch.nn.Module) -> None:
    """Require ``x`` to have the dtype and device of ``module``'s parameters."""
    p = next(module.parameters(), None)
    if p is None:
        return
    kind = type(module).__name__
    if x.dtype != p.dtype:
        raise TypeError(
            f"`{name}` has dtype {x.dtype} but the {kind}'s weights are {p.dtype}; "
            f"convert one of them, e.g. {name}.to({p.dtype}) or module.to({x.dtype})"
        )
    if x.device != p.device:
        raise ValueError(
            f"`{name}` is on {x.device} but the {kind}'s weights are on {p.device}; "
            f"move one of them, e.g. module.to({name}.device)"
        )


def positive_number(x, name: str) -> None:
    """Require a real number > 0 (``bool`` is refused)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"`{name}` must be a positive number; got {type(x).__name__} {x!r}")
    if not x > 0 or x != x or x == float("inf"):
        raise ValueError(f"`{name}` must be a positive, finite number; got {x!r}")


def probability(x, name: str) -> None:
    """Require a real number in ``[0, 1)`` (``bool`` is refused), e.g. a dropout rate."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"`{name}` must be a number in [0, 1); got {type(x).__name__} {x!r}")
    if not 0 <= x < 1:
        raise ValueError(f"`{name}` must be in [0, 1) (a probability); got {x!r}")


def scale_or_default(scale, E: int) -> float:
    """The dot-product scale: ``1 / sqrt(E)`` when ``scale`` is None, else a checked positive number."""
    if scale is None:
        if E <= 0:
            raise ValueError("the default scale 1/sqrt(E) needs a feature size E >= 1; got "
                             f"E = {E} (empty feature vectors): pass `scale` or give the "
                             "queries and keys at least one feature")
        return 1.0 / math.sqrt(E)
    positive_number(scale, "scale")
    return scale


def positive_int(x, name: str) -> None:
    """Require an ``int`` > 0 (``bool`` is refused)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"`{name}` must be a positive int; got {type(x).__name__} {x!r}")
    if x <= 0:
        raise ValueError(f"`{name}` must be a positive int; got {x!r}")


def non_negative_int(x, name: str) -> None:
    """Require an ``int`` >= 0 (``bool`` is refused): a size that may be empty, like ``L`` or ``S``."""
    if isinstance(x, bool) or not isinstance(x, numbers.Integral):
        raise TypeError(f"`{name}` must be a non-negative int; got {type(x).__name__} {x!r}")
    if x < 0:
        raise ValueError(f"`{name}` must be a non-negative int; got {x!r}")


def boolean(x, name: str) -> None:
    """Require a Python ``bool``."""
    if not isinstance(x, bool):
        raise TypeError(f"`{name}` must be True or False; got {type(x).__name__} {x!r}")


def qkv(query, key, value, *, legends: tuple[str, str, str], min_rank: int = 2,
        exact_rank: int | None = None) -> None:
    """The checks every attention rule starts with.

    Tensors, floating point, one dtype and device, the rank, equal batch dims and
    ``key``/``value`` agreeing on ``S``.  Feature sizes are each rule's own business.
    """
    named = {"query": query, "key": key, "value": value}
    for name, x in named.items():
        tensor(x, name)
    for (name, x), legend in zip(named.items(), legends):
        floating(x, name)
        if exact_rank is not None:
            rank(x, name, legend, exact=exact_rank)
        else:
            rank(x, name, legend, at_least=min_rank)
    same_dtype_device(named)
    if not (query.dim() == key.dim() == value.dim()):
        raise ValueError(
            "`query`, `key` and `value` must have the same number of dims; got "
            f"query {_shape(query)}, key {_shape(key)}, value {_shape(value)}"
        )
    batch_dims(named, 2)
    dim_equal(key, "key", -2, value, "value", -2, "length S (dim -2)",
              " (each key needs one value)")


def image(x, name: str, channels: int, module: torch.nn.Module) -> None:
    """Require a floating ``(B, C, H, W)`` tensor with ``C == channels`` on ``module``'s dtype
    and device (shared by the vision modules)."""
    tensor(x, name)
    floating(x, name)
    rank(x, name, "(B, C, H, W)", exact=4)
    size(x, name, 1, channels, "channels C (dim 1)",
         " (images are channels-first: (B, C, H, W))")
    matches_module(x, name, module)
