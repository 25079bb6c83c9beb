"""attnlib: the small, tested attention package behind the course.

One module per concept:

- :mod:`attnlib.masking` -- boolean masks and :func:`masked_softmax`
- :mod:`attnlib.location` -- rule 1, :class:`LocationAttention` (the article's ``Attn``, batched)
- :mod:`attnlib.additive` -- rule 2, :class:`AdditiveAttention`
- :mod:`attnlib.dot_product` -- rule 3, :func:`scaled_dot_product_attention`

Shape legend used everywhere: ``B`` batch, ``H`` heads, ``L`` query length,
``S`` key/value length, ``E`` query/key feature size, ``Ev`` value feature size.
"""

from .additive import AdditiveAttention
from .dot_product import causal_mask, scaled_dot_product_attention
from .location import LocationAttention
from .masking import masked_softmax

__version__ = "0.1.0"

__all__ = [
    "AdditiveAttention",
    "LocationAttention",
    "causal_mask",
    "masked_softmax",
    "scaled_dot_product_attention",
]
