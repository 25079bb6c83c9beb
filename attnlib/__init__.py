"""attnlib: the small, tested attention package behind the course.

One module per concept:

- :mod:`attnlib.masking` -- boolean masks and :func:`masked_softmax`
- :mod:`attnlib.location` -- rule 1, :class:`LocationAttention` (the article's ``Attn``, batched)
- :mod:`attnlib.additive` -- rule 2, :class:`AdditiveAttention`
- :mod:`attnlib.dot_product` -- rule 3, :func:`scaled_dot_product_attention`
- :mod:`attnlib.multihead` -- :class:`MultiHeadAttention` (``nn.MultiheadAttention``'s weights load)
- :mod:`attnlib.positional` -- :func:`sinusoidal_positional_encoding`
- :mod:`attnlib.plotting` -- heatmaps of weights (needs matplotlib, imported only when used)
- :mod:`attnlib.tiled` -- :func:`tiled_attention`, rule 3 with an online softmax over key blocks
- :mod:`attnlib.bench` -- timing and peak memory (import it as ``attnlib.bench``; also ``python -m attnlib.bench``)
- :mod:`attnlib.dates` -- the dates-to-ISO toy translation task, generated from a seed
- :mod:`attnlib.seq2seq` -- a GRU encoder-decoder with pluggable decoder attention (import it as
  ``attnlib.seq2seq``; also ``python -m attnlib.seq2seq``)

Shape legend used everywhere: ``B`` batch, ``H`` heads, ``L`` query length,
``S`` key/value length, ``E`` query/key feature size, ``Ev`` value feature size.
"""

from .additive import AdditiveAttention
from .dot_product import causal_mask, scaled_dot_product_attention
from .location import LocationAttention
from .masking import masked_softmax
from .tiled import tiled_attention
from .multihead import MultiHeadAttention
from .positional import sinusoidal_positional_encoding
from . import plotting  # imports matplotlib only when a plot is drawn
from . import dates  # attnlib.seq2seq is not imported here, so `python -m` runs it cleanly

__version__ = "0.1.0"

__all__ = [
    "AdditiveAttention",
    "LocationAttention",
    "MultiHeadAttention",
    "causal_mask",
    "masked_softmax",
    "scaled_dot_product_attention",
    "sinusoidal_positional_encoding",
    "tiled_attention",
]
