"""Every bad input gets a TypeError/ValueError naming the argument and showing what came.

Each case: (id, call, exception type, regex the message must match).  The
regexes check the argument's name *and* the shapes or values that came in.
"""

import numpy as np
import pytest
import torch

from attnlib import (AdditiveAttention, LocationAttention, causal_mask, masked_softmax,
                     scaled_dot_product_attention as sdpa)

q = torch.randn(2, 4, 8)
k = torch.randn(2, 5, 8)
v = torch.randn(2, 5, 3)
loc = LocationAttention(4, 4, 6, 5, 3)
Q3, K3, V3 = torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.randn(2, 6, 5)
add = AdditiveAttention(8, 8, 16)

CASES = [
    # rule 3
    ("sdpa key E differs", lambda: sdpa(q, torch.randn(2, 5, 16), v), ValueError,
     r"`key` must have the same last dim E as `query`; got query \(2, 4, 8\), key \(2, 5, 16\)"),
    ("sdpa value S differs", lambda: sdpa(q, k, torch.randn(2, 6, 3)), ValueError,
     r"`value` must have the same length S .* got key \(2, 5, 8\), value \(2, 6, 3\)"),
    ("sdpa 1-D query", lambda: sdpa(torch.randn(8), k, v), ValueError,
     r"`query` must be at least 2-D .*\(\.\.\., L, E\); got 1-D shape \(8,\)"),
    ("sdpa rank mismatch", lambda: sdpa(q[0], k, v), ValueError,
     r"same number of dims; got query \(4, 8\), key \(2, 5, 8\)"),
    ("sdpa batch mismatch", lambda: sdpa(torch.randn(3, 4, 8), k, v), ValueError,
     r"`key` must have the same batch dims as `query`; got query \(3, 4, 8\)"),
    ("sdpa list query", lambda: sdpa([[1.0]], k, v), TypeError,
     r"`query` must be a torch.Tensor; got list"),
    ("sdpa numpy query", lambda: sdpa(np.zeros((2, 4, 8)), k, v), TypeError,
     r"`query` must be a torch.Tensor; got ndarray \(convert it with torch.as_tensor"),
    ("sdpa int tensor", lambda: sdpa(q, k, torch.ones(2, 5, 3, dtype=torch.long)), TypeError,
     r"`value` must be a floating-point tensor; got dtype torch.int64"),
    ("sdpa dtype mix", lambda: sdpa(q, k.double(), v), TypeError,
     r"`key` must have the same dtype as `query`; got query torch.float32, key torch.float64"),
    ("sdpa float mask", lambda: sdpa(q, k, v, torch.ones(4, 5)), TypeError,
     r"`mask` must be a boolean tensor .* got dtype torch.float32"),
    ("sdpa mask shape", lambda: sdpa(q, k, v, torch.ones(4, 4, dtype=torch.bool)), ValueError,
     r"`mask` must be broadcastable to the scores' shape \(\.\.\., L, S\) = \(2, 4, 5\); "
     r"got mask \(4, 4\)"),
    ("sdpa mask too many dims", lambda: sdpa(q, k, v, torch.ones(3, 2, 4, 5, dtype=torch.bool)),
     ValueError, r"`mask` must be broadcastable .* got mask \(3, 2, 4, 5\)"),
    ("sdpa zero scale", lambda: sdpa(q, k, v, scale=0.0), ValueError,
     r"`scale` must be a positive, finite number; got 0.0"),
    ("sdpa negative scale", lambda: sdpa(q, k, v, scale=-1), ValueError, r"`scale` .* got -1"),
    ("sdpa nan scale", lambda: sdpa(q, k, v, scale=float("nan")), ValueError, r"`scale` .* nan"),
    ("sdpa string scale", lambda: sdpa(q, k, v, scale="0.1"), TypeError,
     r"`scale` must be a positive number; got str '0.1'"),
    ("sdpa is_causal not bool", lambda: sdpa(q, k, v, is_causal=1), TypeError,
     r"`is_causal` must be True or False; got int 1"),
    # masked softmax
    ("softmax int scores", lambda: masked_softmax(torch.ones(2, 3, dtype=torch.int32)), TypeError,
     r"`scores` must be a floating-point tensor; got dtype torch.int32"),
    ("softmax mask shape", lambda: masked_softmax(torch.ones(2, 3), torch.ones(3, 2).bool()),
     ValueError, r"`mask` must be broadcastable .* \(2, 3\); got mask \(3, 2\)"),
    ("softmax uint8 mask", lambda: masked_softmax(torch.ones(2, 3), torch.ones(2, 3).byte()),
     TypeError, r"`mask` must be a boolean tensor .* torch.uint8. Convert a 0/1 mask"),
    ("causal_mask negative", lambda: causal_mask(-1, 3), ValueError,
     r"`L` must be a non-negative int; got -1"),
    ("causal_mask float", lambda: causal_mask(2, 3.0), TypeError,
     r"`S` must be a non-negative int; got float 3.0"),
    # rule 1
    ("rule1 V rows", lambda: loc(Q3, K3, torch.randn(2, 7, 5)), ValueError,
     r"`V` must have value_size1 rows \(dim 1\) = 6; got shape \(2, 7, 5\)"),
    ("rule1 Q size", lambda: loc(torch.randn(2, 3, 5), K3, V3), ValueError,
     r"`Q` must have last dim query_size = 4; got shape \(2, 3, 5\)"),
    ("rule1 2-D Q", lambda: loc(Q3[0], K3, V3), ValueError,
     r"`Q` must be 3-D with shape \(B, L, query_size\); got 2-D shape \(3, 4\)"),
    ("rule1 batch", lambda: loc(Q3, K3, torch.randn(3, 6, 5)), ValueError,
     r"`V` must have the same batch size B \(dim 0\) as `Q`; got Q \(2, 3, 4\), V \(3, 6, 5\)"),
    ("rule1 L differs", lambda: loc(Q3, torch.randn(2, 2, 4), V3), ValueError,
     r"`K` must have the same length L \(dim 1\) as `Q`"),
    ("rule1 dtype vs module", lambda: loc(Q3.double(), K3.double(), V3.double()), TypeError,
     r"`Q` has dtype torch.float64 but the LocationAttention's weights are torch.float32"),
    ("rule1 size zero", lambda: LocationAttention(4, 4, 0, 5, 3), ValueError,
     r"`value_size1` must be a positive int; got 0"),
    ("rule1 size float", lambda: LocationAttention(4, 4, 6.0, 5, 3), TypeError,
     r"`value_size1` must be a positive int; got float 6.0"),
    # rule 2
    ("rule2 query size", lambda: add(torch.randn(2, 4, 7), k, v), ValueError,
     r"`query` must have last dim Eq \(query_size\) = 8; got shape \(2, 4, 7\)"),
    ("rule2 4-D", lambda: add(q[None], k[None], v[None]), ValueError,
     r"`query` must be 3-D with shape \(B, L, Eq\); got 4-D shape \(1, 2, 4, 8\)"),
    ("rule2 mask shape", lambda: add(q, k, v, torch.ones(2, 4, 6, dtype=torch.bool)), ValueError,
     r"`mask` must be broadcastable to the scores' shape \(B, L, S\) = \(2, 4, 5\)"),
    ("rule2 hidden bool", lambda: AdditiveAttention(8, 8, True), TypeError,
     r"`hidden_size` must be a positive int; got bool True"),
]


@pytest.mark.parametrize("call,exc,pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_helpful_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
