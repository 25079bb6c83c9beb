"""Chapter 10's checkers pass the book's solutions and fail typical wrong answers with their hint."""

import pytest
import torch
import torch.nn.functional as F

from attnlib import GroupedQueryAttention
from attnlib import exercises as ex
from conftest import fails_with, stub

CHECKERS = [ex.check_cache_bytes, ex.check_multi_query_from_multi_head,
            ex.check_absorbed_query, ex.check_linear_recurrence]


@pytest.mark.parametrize("checker", CHECKERS)
def test_stub_and_junk(checker):
    fails_with(checker(stub), "not done yet")
    fails_with(checker(lambda *a: None), "did you forget a `return`?")
    fails_with(checker(lambda *a: 1 / 0), "raised ZeroDivisionError")
    fails_with(checker("not a function"), "expected a function")


# the book's solutions ------------------------------------------------------------------

def cache_bytes(layers, num_heads, num_kv_heads, head_dim, tokens, nbytes):
    return 2 * layers * num_kv_heads * head_dim * tokens * nbytes


@torch.no_grad()
def convert(mha, num_kv_heads, pool="mean"):
    H, E = mha.num_heads, mha.embed_dim
    out = GroupedQueryAttention(E, H, num_kv_heads).to(mha.q_proj.weight)
    out.q_proj.load_state_dict(mha.q_proj.state_dict())
    out.o_proj.load_state_dict(mha.o_proj.state_dict())
    for name in ("k_proj", "v_proj"):
        w = getattr(mha, name).weight.view(num_kv_heads, H // num_kv_heads, E // H, E)
        w = {"mean": w.mean(1), "sum": w.sum(1), "first": w[:, 0]}[pool]
        getattr(out, name).weight.copy_(w.reshape(-1, E))
    return out


def absorb(q_nope, w_uk):
    return q_nope @ w_uk  # (B, H, L, d_n) @ (H, d_n, r) -> (B, H, L, r)


def recurrent(q, k, v, causal=True):
    fq, fk = F.elu(q) + 1, F.elu(k) + 1
    S = q.new_zeros(q.shape[0], q.shape[-1], v.shape[-1])  # (B, E, Ev)
    z = q.new_zeros(q.shape[0], q.shape[-1])  # (B, E)
    if not causal:
        S, z = fk.transpose(1, 2) @ v, fk.sum(1)
    out = []
    for i in range(q.shape[1]):
        if causal:
            S = S + fk[:, i, :, None] * v[:, i, None, :]
            z = z + fk[:, i]
        num = (fq[:, i, None, :] @ S).squeeze(1)  # (B, Ev)
        out.append(num / (fq[:, i] * z).sum(-1, keepdim=True))
    return torch.stack(out, 1)


def test_solutions_pass():
    for checker, solution in zip(CHECKERS, [cache_bytes, convert, absorb, recurrent]):
        report = checker(solution)
        assert report.passed, str(report)


def test_typical_mistakes_get_their_hint():
    fails_with(ex.check_cache_bytes(lambda n, H, G, d, t, b: n * G * d * t * b), "AND a value")
    fails_with(ex.check_cache_bytes(lambda n, H, G, d, t, b: 2 * n * H * d * t * b),
               "only the num_kv_heads")
    fails_with(ex.check_cache_bytes(lambda n, H, G, d, t, b: 2 * G * d * t * b),
               "every layer")
    fails_with(ex.check_cache_bytes(lambda n, H, G, d, t, b: "many"),
               "expected a number of bytes")
    fails_with(ex.check_multi_query_from_multi_head(lambda m, g: convert(m, g, "sum")),
               "average")
    fails_with(ex.check_multi_query_from_multi_head(lambda m, g: convert(m, g, "first")),
               "not only its first")
    fails_with(ex.check_multi_query_from_multi_head(lambda m, g: torch.zeros(1)),
               "expected a GroupedQueryAttention")
    fails_with(ex.check_absorbed_query(lambda q, w: q @ w[0]), "its own W^UK_h")
    fails_with(ex.check_linear_recurrence(lambda q, k, v: recurrent(q, k, v, causal=False)),
               "query i sees keys 0..i only")
