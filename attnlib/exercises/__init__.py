"""Checkers for the chapters' coding exercises.

Each ``check_*`` function takes the reader's function, runs it on a few fixed
cases, compares with a reference, and returns a :class:`Report` that reads as
plain text in a notebook: which case failed, the input shapes, expected versus
got, and a hint for the mistakes readers make most.  It never lets a
traceback escape from the reader's code, and it never passes a wrong answer:
every case compares the full result with the reference.

Example:
    >>> def my_masked_softmax(scores, mask):
    ...     raise NotImplementedError
    >>> check_masked_softmax(my_masked_softmax).passed
    False

Inside: :mod:`._report` holds the shared machinery (:class:`Report`, :class:`Case`,
the loop that runs the cases); one module per chapter holds that chapter's checkers:

- :mod:`.what_is_attention` -- chapter 1: ``check_laplace_weights``
- :mod:`.shapes` -- chapter 2: ``check_einsum_output``
- :mod:`.location` -- chapter 3: ``check_batched_rule1``
- :mod:`.additive` -- chapter 4: ``check_additive_scores``
- :mod:`.dot_product` -- chapter 5: ``check_masked_softmax``, ``check_causal_self_attention``
- :mod:`.rules_compared` -- chapter 6: ``check_decoder_attention_step``
- :mod:`.multi_head` -- chapter 7: ``check_split_merge``
- :mod:`.performance` -- chapter 8: ``check_tiled_padding``
- :mod:`.transformer` -- chapter 9: ``check_pre_ln_block``, ``check_rotary``,
  ``check_grouped_query_attention``
- :mod:`.llm_attention` -- chapter 10: ``check_cache_bytes``,
  ``check_multi_query_from_multi_head``, ``check_absorbed_query``, ``check_linear_recurrence``
- :mod:`.positions_and_masks` -- chapter 11: ``check_alibi_slopes``,
  ``check_prefix_lm_mask_mod``, ``check_window_sparsity``
- :mod:`.kernels` -- chapter 12: ``check_causal_blocks``, ``check_merge_partials``,
  ``check_split_kv``
- :mod:`.beyond_sequences` -- chapter 13: ``check_axial_width``, ``check_se_gate``,
  ``check_score_counts``
- :mod:`.vision_transformers` -- chapter 14: ``check_patch_counts``, ``check_relative_index``,
  ``check_rollout``
"""

from ._report import Case, Report
from .what_is_attention import check_laplace_weights
from .shapes import check_einsum_output
from .location import check_batched_rule1
from .additive import check_additive_scores
from .dot_product import check_masked_softmax, check_causal_self_attention
from .rules_compared import check_decoder_attention_step
from .multi_head import check_split_merge
from .performance import check_tiled_padding
from .transformer import check_grouped_query_attention, check_pre_ln_block, check_rotary
from .positions_and_masks import (check_alibi_slopes, check_prefix_lm_mask_mod,
                                  check_window_sparsity)
from .kernels import check_causal_blocks, check_merge_partials, check_split_kv
from .beyond_sequences import check_axial_width, check_score_counts, check_se_gate
from .vision_transformers import check_patch_counts, check_relative_index, check_rollout
from .llm_attention import (check_absorbed_query, check_cache_bytes,
                            check_linear_recurrence, check_multi_query_from_multi_head)

__all__ = [
    "Case",
    "Report",
    "check_laplace_weights",
    "check_einsum_output",
    "check_batched_rule1",
    "check_additive_scores",
    "check_masked_softmax",
    "check_causal_self_attention",
    "check_decoder_attention_step",
    "check_split_merge",
    "check_tiled_padding",
    "check_pre_ln_block",
    "check_rotary",
    "check_grouped_query_attention",
    "check_alibi_slopes",
    "check_prefix_lm_mask_mod",
    "check_window_sparsity",
    "check_causal_blocks",
    "check_merge_partials",
    "check_split_kv",
    "check_axial_width",
    "check_se_gate",
    "check_score_counts",
    "check_patch_counts",
    "check_relative_index",
    "check_rollout",
    "check_cache_bytes",
    "check_multi_query_from_multi_head",
    "check_absorbed_query",
    "check_linear_recurrence",
]
