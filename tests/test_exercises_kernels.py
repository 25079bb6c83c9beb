"""Chapter 12's checkers pass the book's solutions and fail typical mistakes with their hints."""

import math

import pytest
import torch

from attnlib import exercises as ex
from conftest import fails_with, stub


@pytest.mark.parametrize("checker", [ex.check_causal_blocks, ex.check_merge_partials,
                                     ex.check_split_kv])
def test_stub_and_junk_never_pass(checker):
    fails_with(checker(stub), "not done yet")
    fails_with(checker(lambda *a: None), "did you forget a `return`?")
    fails_with(checker(lambda *a: 1 / 0), "raised ZeroDivisionError")
    fails_with(checker("not a function"), "expected a function")


# the book's solutions ------------------------------------------------------------------

def causal_blocks(L, S, block_m, block_n):
    counts = []
    for i in range(math.ceil(L / block_m)):
        last_key = min(S, (i + 1) * block_m)  # keys 0 .. last_key - 1 may be seen
        counts.append(math.ceil(last_key / block_n))
    return counts


def merge(o1, lse1, o2, lse2):
    lse = torch.logaddexp(lse1, lse2)  # log(exp(lse1) + exp(lse2)), without overflow
    w1 = torch.exp(lse1 - lse)[..., None]  # part 1's share of the softmax sum
    w2 = torch.exp(lse2 - lse)[..., None]
    return w1 * o1 + w2 * o2, lse


def split_kv(query, key, value, n_splits):
    S, E = key.shape[-2], query.shape[-1]
    size = math.ceil(S / n_splits)
    o, lse = None, None  # chunk by chunk, with merge: the two-part form of kern-merge
    for s0 in range(0, S, size):
        k, v = key[..., s0:s0 + size, :], value[..., s0:s0 + size, :]
        scores = query @ k.transpose(-2, -1) / math.sqrt(E)
        part_lse = torch.logsumexp(scores, dim=-1)
        part = torch.softmax(scores, dim=-1) @ v
        o, lse = (part, part_lse) if o is None else merge(o, lse, part, part_lse)
    return o


def test_solutions_pass():
    for checker, fn in ((ex.check_causal_blocks, causal_blocks),
                        (ex.check_merge_partials, merge), (ex.check_split_kv, split_kv)):
        report = checker(fn)
        assert report.passed, str(report)


def test_causal_blocks_mistakes():
    fails_with(ex.check_causal_blocks(lambda L, S, bm, bn: [math.ceil(S / bn)] * math.ceil(L / bm)),
               "that is every key block")
    fails_with(ex.check_causal_blocks(
        lambda L, S, bm, bn: [math.ceil((i + 1) * bm / bn) for i in range(math.ceil(L / bm))]),
        "min with S")
    fails_with(ex.check_causal_blocks(
        lambda L, S, bm, bn: [min(S, (i + 1) * bm) // bn for i in range(math.ceil(L / bm))]),
        "round up")
    fails_with(ex.check_causal_blocks(
        lambda L, S, bm, bn: [math.ceil(min(S, i * bm) / bn) for i in range(math.ceil(L / bm))]),
        "count up to (i + 1) * block_m")
    fails_with(ex.check_causal_blocks(lambda L, S, bm, bn: 3), "expected a list of ints")
    # a tensor of counts is a right answer too
    assert ex.check_causal_blocks(lambda *a: torch.tensor(causal_blocks(*a))).passed


def test_merge_mistakes():
    fails_with(ex.check_merge_partials(lambda o1, l1, o2, l2: ((o1 + o2) / 2,
                                                              torch.logaddexp(l1, l2))),
               "the parts are not worth the same")
    fails_with(ex.check_merge_partials(lambda o1, l1, o2, l2: (o1 + o2, torch.logaddexp(l1, l2))),
               "weight it by its share")
    fails_with(ex.check_merge_partials(lambda o1, l1, o2, l2: (merge(o1, l1, o2, l2)[0],
                                                              torch.maximum(l1, l2))),
               "the output is right")

    def naive(o1, l1, o2, l2):  # exp(lse) overflows when the scores are large
        z1, z2 = torch.exp(l1), torch.exp(l2)
        z = z1 + z2
        return (z1 / z)[..., None] * o1 + (z2 / z)[..., None] * o2, torch.log(z)
    report = ex.check_merge_partials(naive)
    assert not report.passed and "part 2 scores ~1000 higher" in str(report), str(report)
    fails_with(ex.check_merge_partials(lambda *a: a[0]), "expected a tuple (o, lse)")
    fails_with(ex.check_merge_partials(lambda o1, l1, o2, l2: (o1, l1[..., 0])),
               "expected lse of shape")


def test_split_kv_mistakes():
    def average(query, key, value, n_splits):
        size = math.ceil(key.shape[-2] / n_splits)
        parts = [torch.softmax(query @ key[..., i:i + size, :].transpose(-2, -1)
                               / math.sqrt(query.shape[-1]), -1) @ value[..., i:i + size, :]
                 for i in range(0, key.shape[-2], size)]
        return torch.stack(parts).mean(0)
    fails_with(ex.check_split_kv(average), "weight each by exp(lse_i - lse)")

    def no_scale(query, key, value, n_splits):
        return torch.softmax(query @ key.transpose(-2, -1), -1) @ value
    assert not ex.check_split_kv(no_scale).passed
