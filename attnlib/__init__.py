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
- :mod:`attnlib.self_attention` -- :class:`SelfAttention`, one head with trainable W_q, W_k, W_v
- :mod:`attnlib.transformer` -- :class:`TransformerEncoderLayer`, :class:`TransformerDecoderLayer` (torch's weights load)
- :mod:`attnlib.rotary` -- :func:`apply_rotary`, rotary position embedding (RoFormer)
- :mod:`attnlib.lm` -- :class:`TransformerLM`, a decoder-only model with greedy generation and a KV cache
- :mod:`attnlib.squeeze_excitation` -- :class:`SqueezeExcitation`, channel attention (torchvision's layout)
- :mod:`attnlib.coordinate` -- :class:`CoordinateAttention`, gates per row and column (the authors' layout)
- :mod:`attnlib.axial` -- :class:`AxialAttention`, multi-head attention along an image's columns or rows
- :mod:`attnlib.temporal` -- :class:`TemporalAttention`, a learned query weights a video's frames

Course tooling, in subpackages (each ``__init__`` says what is inside):

- :mod:`attnlib.bench` -- timing, peak memory and FLOPs; the sweeps (``python -m attnlib.bench``)
- :mod:`attnlib.exercises` -- the checkers of the chapters' coding exercises, one module a chapter
- :mod:`attnlib.seq2seq` -- models trained on tasks generated in code: the dates task
  (``attnlib.seq2seq.dates``, also ``attnlib.dates``), a GRU encoder-decoder with pluggable
  attention, the training loop (``python -m attnlib.seq2seq``)
- :mod:`attnlib.images` -- generated image and video tasks and the small models trained on them

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
from .self_attention import SelfAttention
from .transformer import TransformerDecoderLayer, TransformerEncoderLayer
from .rotary import apply_rotary
from .lm import TransformerLM
from .squeeze_excitation import SqueezeExcitation
from .coordinate import CoordinateAttention
from .axial import AxialAttention
from .temporal import TemporalAttention
from . import plotting  # imports matplotlib only when a plot is drawn
from .seq2seq import dates  # the generated task, also reachable as attnlib.dates

__version__ = "0.1.0"

__all__ = [
    "AdditiveAttention",
    "AxialAttention",
    "CoordinateAttention",
    "SqueezeExcitation",
    "TemporalAttention",
    "LocationAttention",
    "MultiHeadAttention",
    "SelfAttention",
    "TransformerDecoderLayer",
    "TransformerEncoderLayer",
    "TransformerLM",
    "apply_rotary",
    "causal_mask",
    "masked_softmax",
    "scaled_dot_product_attention",
    "sinusoidal_positional_encoding",
    "tiled_attention",
]
