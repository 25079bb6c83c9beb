"""Sequence-to-sequence models trained on tasks generated in code (course tooling).

Inside:

- :mod:`.dates` -- the generated task: dates written many ways, to ISO 8601
  (``"23 Nov 2026"`` -> ``"2026-11-23"``), split into train/val/test and longer inputs
- :mod:`.vocab` -- :class:`CharVocab`, characters <-> ids with padding, start and end
- :mod:`.gru` -- :class:`Seq2Seq`, a GRU encoder-decoder whose decoder attention is
  rule 1, 2 or 3, or none (:data:`RULES`)
- :mod:`.transformer` -- :class:`~.transformer.TransformerSeq2Seq`, a Transformer
  encoder-decoder with the GRU model's interface (sinusoidal or rotary positions)
- :mod:`.dates_lm` -- the dates task for a decoder-only model (chapter 11):
  :func:`~.dates_lm.encode`, :func:`~.dates_lm.train_lm`, :func:`~.dates_lm.exact_match`
- :mod:`.training` -- :func:`train` (teacher forcing, a fixed number of passes),
  :func:`exact_match` (greedy decoding) and :func:`dates_model`
- :mod:`.cli` -- :func:`main`, the command line: ``python -m attnlib.seq2seq --rule
  additive`` trains one variant and prints its accuracies (``--help`` lists the options)
"""

from . import dates
from .gru import RULES, Seq2Seq, check_rule
from .cli import main
from .training import TrainResult, dates_model, exact_match, train
from .vocab import CharVocab

__all__ = ["RULES", "CharVocab", "Seq2Seq", "TrainResult", "check_rule", "dates",
           "dates_model", "exact_match", "main", "train"]
