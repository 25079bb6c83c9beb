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
- :mod:`attnlib.flash` -- :func:`flash_attention`, the same in Triton kernels, forward and backward
  (needs the extra ``attnlib[kernels]``)
- :mod:`attnlib.self_attention` -- :class:`SelfAttention`, one head with trainable W_q, W_k, W_v
- :mod:`attnlib.transformer` -- :class:`TransformerEncoderLayer`, :class:`TransformerDecoderLayer` (torch's weights load)
- :mod:`attnlib.rotary` -- :func:`apply_rotary`, rotary position embedding (RoFormer)
- :mod:`attnlib.lm` -- :class:`TransformerLM`, a decoder-only model with greedy generation and a KV cache
- :mod:`attnlib.squeeze_excitation` -- :class:`SqueezeExcitation`, channel attention (torchvision's layout)
- :mod:`attnlib.coordinate` -- :class:`CoordinateAttention`, gates per row and column (the authors' layout)
- :mod:`attnlib.axial` -- :class:`AxialAttention`, multi-head attention along an image's columns or rows
- :mod:`attnlib.temporal` -- :class:`TemporalAttention`, a learned query weights a video's frames
- :mod:`attnlib.vit` -- :class:`VisionTransformer` (timm's weights load), :func:`attention_rollout`
- :mod:`attnlib.relative_position_2d` -- :class:`RelativePositionBias2d` (timm's ``RelPosBias``),
  :class:`RelativeAttention2d`, :func:`relative_position_index`
- :mod:`attnlib.coatnet` -- :class:`CoAtNet`, convolution stages then relative attention (C-C-T-T)
- :mod:`attnlib.grouped_query` -- :class:`GroupedQueryAttention` (``LlamaAttention``'s layout), :func:`mha_to_gqa`
- :mod:`attnlib.latent` -- :class:`MultiHeadLatentAttention`, DeepSeek-V2's cache of a latent
- :mod:`attnlib.sliding_window` -- :class:`SlidingWindowAttention` (rolling cache, attention sinks)
- :mod:`attnlib.linear_attention` -- :func:`linear_attention`, :func:`delta_rule`, :class:`LinearSelfAttention`
- :mod:`attnlib.lm_variants` -- :class:`VariantLM`, one decoder with any of them; :func:`kv_cache_bytes`
- :mod:`attnlib.alibi` -- :func:`alibi_slopes`, :func:`alibi_bias` (ALiBi's linear biases)
- :mod:`attnlib.relative_bias` -- :class:`T5RelativeBias`, :func:`relative_position_bucket` (T5)
- :mod:`attnlib.biased` -- :func:`biased_attention`, the dense path for score biases and soft-capping
- :mod:`attnlib.mask_patterns` -- :func:`document_mask`, :func:`prefix_lm_mask` (dense masks)
- :mod:`attnlib.rope_scaling` -- :func:`rope_frequencies`: PI, NTK-aware, dynamic, YaRN
- :mod:`attnlib.positions_lm` -- :class:`PositionsLM`, a decoder with no, added, rotary or ALiBi positions
- :mod:`attnlib.flex` -- FlexAttention ``mask_mod``/``score_mod`` functions (torch >= 2.5, imported when used)

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
from .flash import flash_attention  # Triton is imported on the first call
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
from .vit import VisionTransformer, attention_rollout
from .relative_position_2d import (RelativeAttention2d, RelativePositionBias2d,
                                   relative_position_index)
from .coatnet import CoAtNet
from .grouped_query import GroupedQueryAttention, mha_to_gqa
from .latent import MultiHeadLatentAttention
from .sliding_window import SlidingWindowAttention, sliding_window_mask
from .linear_attention import LinearSelfAttention, delta_rule, linear_attention
from .lm_variants import VariantLM, kv_cache_bytes
from .alibi import alibi_bias, alibi_slopes
from .relative_bias import T5RelativeBias, relative_position_bucket
from .biased import biased_attention
from .mask_patterns import document_mask, prefix_lm_mask
from .rope_scaling import rope_frequencies
from .positions_lm import PositionsLM
from . import flex  # FlexAttention itself is imported on the first call
from . import plotting  # imports matplotlib only when a plot is drawn
from .seq2seq import dates  # the generated task, also reachable as attnlib.dates

import sys as _sys

# `import attnlib.dates` and `from attnlib.dates import ...` work as the README writes them
_sys.modules.setdefault(__name__ + ".dates", dates)

__version__ = "0.2.0"

__all__ = [
    "AdditiveAttention",
    "AxialAttention",
    "CoordinateAttention",
    "SqueezeExcitation",
    "TemporalAttention",
    "VisionTransformer",
    "attention_rollout",
    "RelativeAttention2d",
    "RelativePositionBias2d",
    "relative_position_index",
    "CoAtNet",
    "LocationAttention",
    "MultiHeadAttention",
    "SelfAttention",
    "TransformerDecoderLayer",
    "TransformerEncoderLayer",
    "TransformerLM",
    "apply_rotary",
    "causal_mask",
    "flash_attention",
    "masked_softmax",
    "scaled_dot_product_attention",
    "sinusoidal_positional_encoding",
    "tiled_attention",
    "GroupedQueryAttention",
    "LinearSelfAttention",
    "MultiHeadLatentAttention",
    "SlidingWindowAttention",
    "VariantLM",
    "delta_rule",
    "kv_cache_bytes",
    "linear_attention",
    "mha_to_gqa",
    "sliding_window_mask",
    "PositionsLM",
    "T5RelativeBias",
    "alibi_bias",
    "alibi_slopes",
    "biased_attention",
    "document_mask",
    "prefix_lm_mask",
    "relative_position_bucket",
    "rope_frequencies",
]
