"""The dates task (attnlib.dates) and the encoder-decoder (attnlib.seq2seq)."""

import datetime as dt
import math
import re
import subprocess
import sys

import pytest
import torch

from attnlib import dates
from attnlib.exercises import check_decoder_attention_step
from attnlib.seq2seq import (RULES, CharVocab, Seq2Seq, check_rule,
                             dates_model, exact_match, main, train)

MONTH_BY_NAME = {**{m: i + 1 for i, m in enumerate(dates.MONTHS)},
                 **{m[:3]: i + 1 for i, m in enumerate(dates.MONTHS)}}
WEEKDAY_BY_NAME = {**{w: i for i, w in enumerate(dates.WEEKDAYS)},
                   **{w[:3]: i for i, w in enumerate(dates.WEEKDAYS)}}


def parse(source: str) -> dt.date:
    """An independent reading of a source string: words for month and weekday, numbers in order."""
    words = re.findall(r"[A-Za-z]+", source)
    numbers = re.findall(r"\d+", source)
    months = [MONTH_BY_NAME[w] for w in words if w in MONTH_BY_NAME]
    weekdays = [WEEKDAY_BY_NAME[w] for w in words if w in WEEKDAY_BY_NAME]
    assert set(words) - set(MONTH_BY_NAME) - set(WEEKDAY_BY_NAME) <= {"st", "nd", "rd", "th",
                                                                       "the", "of", "on"}, source
    if months:
        assert len(months) == 1 and len(numbers) == 2, source
        (day, year), month = numbers, months[0]
    else:
        assert len(numbers) == 3, source
        day, month, year = numbers
    year = int(year) if len(year) == 4 else (1900 if int(year) >= 50 else 2000) + int(year)
    date = dt.date(year, int(month), int(day))
    assert len(weekdays) <= 1 and all(w == date.weekday() for w in weekdays), source
    return date


@pytest.fixture(scope="module")
def splits():
    return dates.make_splits(0, n_train=800, n_val=100, n_test=200, n_long=200)


# ---------------------------------------------------------------- the data
def test_splits_are_deterministic_and_depend_on_the_seed(splits):
    again = dates.make_splits(0, n_train=800, n_val=100, n_test=200, n_long=200)
    assert again == splits
    other = dates.make_splits(1, n_train=800, n_val=100, n_test=200, n_long=200)
    assert other["train"] != splits["train"]
    assert {k: len(v) for k, v in splits.items()} == {"train": 800, "val": 100, "test": 200,
                                                       "long": 200}


def test_every_target_is_the_iso_form_of_the_source_date(splits):
    for name, pairs in splits.items():
        for source, target in pairs:
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", target)
            assert dt.date.fromisoformat(target) == parse(source), (name, source, target)


@pytest.mark.parametrize("fmt", [*dates.SHORT_FORMATS, *dates.LONG_FORMATS])
@pytest.mark.parametrize("date", [dt.date(1950, 1, 1), dt.date(1999, 12, 31), dt.date(2000, 2, 29),
                                  dt.date(2026, 11, 23), dt.date(2049, 12, 31)])
def test_every_format_round_trips(fmt, date):
    assert parse(dates.render(date, fmt)) == date


def test_format_examples_and_ordinals():
    assert dates.FORMAT_EXAMPLES["Mon dth, yyyy"] == "Nov 23rd, 2026"
    assert dates.FORMAT_EXAMPLES["dd/mm/yy"] == "23/11/26"
    assert dates.iso(dt.date(2026, 11, 23)) == "2026-11-23"
    got = [dates.ordinal(d) for d in (1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 30, 31)]
    assert got == ["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd",
                   "30th", "31st"]


def test_splits_share_no_date_and_no_source(splits):
    names = list(splits)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not {t for _, t in splits[a]} & {t for _, t in splits[b]}, (a, b)
            assert not {s for s, _ in splits[a]} & {s for s, _ in splits[b]}, (a, b)
    for pairs in splits.values():
        assert len({t for _, t in pairs}) == len(pairs)


def test_long_inputs_are_longer_than_any_training_input(splits):
    assert dates.LONG_MIN_LEN > dates.SHORT_MAX_LEN
    longest_train = max(len(s) for s, _ in splits["train"])
    assert min(len(s) for s, _ in splits["long"]) > longest_train
    assert longest_train <= dates.SHORT_MAX_LEN
    for name in ("train", "val", "test"):
        assert max(len(s) for s, _ in splits[name]) <= dates.SHORT_MAX_LEN
    # and every character of the long inputs occurs in training inputs
    assert set("".join(s for s, _ in splits["long"])) <= set(dates.SOURCE_CHARS)


def test_bad_data_arguments():
    with pytest.raises(ValueError, match=r"`fmt` must be one of .*'dd/mm/yy'.*got 'yyyy'"):
        dates.render(dt.date(2000, 1, 1), "yyyy")
    with pytest.raises(TypeError, match=r"`date` must be a datetime.date; got str"):
        dates.render("2000-01-01", "dd/mm/yy")
    with pytest.raises(ValueError, match=r"`date` must be between 1950-01-01 and 2049-12-31"):
        dates.render(dt.date(2050, 1, 1), "dd/mm/yy")
    with pytest.raises(ValueError, match=r"`n_train` must be a positive int; got 0"):
        dates.make_splits(n_train=0)
    with pytest.raises(TypeError, match=r"`seed` must be an int; got str"):
        dates.make_splits("0")
    with pytest.raises(ValueError, match=r"ask for 40000 distinct dates but only 36525 exist"):
        dates.make_splits(n_train=37500)


# ---------------------------------------------------------------- the vocabulary
def test_char_vocab_round_trip_and_padding():
    vocab = CharVocab(dates.TARGET_CHARS)
    assert len(vocab) == 3 + 11 and vocab.itos[:3] == ["<pad>", "<sos>", "<eos>"]
    ids, lengths = vocab.batch(["2026-11-23", "1-2"], eos=True)
    assert ids.shape == (2, 11) and ids.dtype == torch.long
    assert lengths.tolist() == [11, 4]
    assert ids[1, 4:].eq(CharVocab.pad).all() and ids[1, 3] == CharVocab.eos
    assert vocab.decode(ids[0]) == "2026-11-23" and vocab.decode(ids[1]) == "1-2"


def test_char_vocab_errors():
    vocab = CharVocab("ab")
    with pytest.raises(ValueError, match=r"characters outside the vocabulary: \['c'\] in 'abc'"):
        vocab.encode("abc")
    with pytest.raises(ValueError, match=r"must not repeat a character; got \['a'\]"):
        CharVocab("aba")
    with pytest.raises(TypeError, match=r"`chars` must be a non-empty str"):
        CharVocab(["a"])
    with pytest.raises(TypeError, match=r"`texts` must be a non-empty list of str"):
        vocab.batch("ab")


# ---------------------------------------------------------------- the model
def small(rule, **kw):
    return dates_model(rule, seed=0, embed_size=8, hidden_size=16, **kw)


VARIANTS = [(r, False) for r in RULES] + [(r, True) for r in RULES if r != "none"]
IDS = [f"{r}{'+self' if sa else ''}" for r, sa in VARIANTS]


@pytest.mark.parametrize("rule,self_attention", VARIANTS, ids=IDS)
def test_shapes_for_every_rule(rule, self_attention, splits):
    model = small(rule, encoder_self_attention=self_attention)
    texts = [s for s, _ in splits["test"][:3]] + [splits["long"][0][0]]  # the last is longer
    source, lengths = model.source_vocab.batch(texts)
    B, S = source.shape
    assert S > dates.SHORT_MAX_LEN
    target_in = torch.ones(B, 5, dtype=torch.long)
    logits, weights = model(source, lengths, target_in)
    assert logits.shape == (B, 5, len(model.target_vocab))
    if rule == "none":
        assert weights is None
    elif rule == "location":
        assert weights.shape == (B, 5, dates.SHORT_MAX_LEN)  # a fixed number of positions
    else:
        assert weights.shape == (B, 5, S)
        assert weights[0, :, lengths[0]:].eq(0).all()  # padding is masked
    if weights is not None:
        torch.testing.assert_close(weights.sum(-1), torch.ones(B, 5))
    memory, final, mask, self_weights = model.encode(source, lengths)
    assert memory.shape == (B, S, 16) and final.shape == (B, 16) and mask.shape == (B, S)
    assert memory[0, lengths[0]:].eq(0).all()
    assert (self_weights is None) != self_attention
    if self_attention:
        assert self_weights.shape == (B, S, S)


@pytest.mark.parametrize("rule,self_attention", VARIANTS, ids=IDS)
def test_greedy_equals_teacher_forcing_on_its_own_output_and_ignores_padding(rule, self_attention,
                                                                              splits):
    model = small(rule, encoder_self_attention=self_attention)
    texts = [s for s, _ in splits["test"][:4]] + [splits["long"][0][0]]
    source, lengths = model.source_vocab.batch(texts)
    ids, weights = model.greedy(source, lengths, 6)
    target_in = torch.cat((torch.full((len(texts), 1), CharVocab.sos), ids[:, :-1]), dim=1)
    with torch.no_grad():
        logits, tf_weights = model(source, lengths, target_in)
    assert torch.equal(logits.argmax(-1), ids)
    if weights is not None:
        torch.testing.assert_close(weights, tf_weights)
    # the first item alone gives the same answer as inside the padded batch
    alone, _ = model.greedy(source[:1, :int(lengths[0])], lengths[:1], 6)
    assert torch.equal(alone[0], ids[0])


def test_rule_1_cannot_see_past_max_source_len(gen):
    S, n = 30, dates.SHORT_MAX_LEN
    memory = torch.randn(2, S, 16, generator=gen)
    tail_changed = memory.clone()
    tail_changed[:, n:] = torch.randn(2, S - n, 16, generator=gen)
    mask = torch.ones(2, S, dtype=torch.bool)
    states, embedded = torch.randn(2, 3, 16, generator=gen), torch.randn(2, 3, 8, generator=gen)
    with torch.no_grad():
        for rule in ("location", "additive"):
            model = small(rule)
            out, w = model._attend(states, embedded, memory, mask)
            out2, w2 = model._attend(states, embedded, tail_changed, mask)
            if rule == "location":  # positions n, n+1, ... are cut off
                assert w.shape == (2, 3, n) and torch.equal(out, out2) and torch.equal(w, w2)
            else:  # rule 2 looks at every position
                assert w.shape == (2, 3, S) and not torch.equal(w, w2)


def test_a_tiny_training_run_reduces_the_loss_and_is_deterministic(splits):
    results = []
    for _ in range(2):
        model = small("dot")
        results.append(train(model, splits["train"][:256], epochs=3, batch_size=32, lr=1e-2,
                             seed=0, progress=False))
    first, second = results
    assert first.losses == second.losses
    assert first.steps == 24 and first.epochs == 3 and first.seconds > 0
    assert sum(first.losses[-4:]) / 4 < 0.7 * first.losses[0]
    assert 0.0 <= exact_match(model, splits["val"][:50]) <= 1.0


def test_on_epoch_end_sees_each_full_pass_and_changes_nothing(splits):
    pairs = splits["train"][:96]  # 3 batches of 32 a pass
    plain = train(small("dot"), pairs, epochs=3, batch_size=32, lr=1e-2, seed=0,
                  progress=False)
    model, seen = small("dot"), []

    def score(epochs_done):
        assert model.training  # called in the middle of training...
        seen.append((epochs_done, exact_match(model, pairs[:8])))

    watched = train(model, pairs, epochs=3, batch_size=32, lr=1e-2, seed=0, progress=False,
                    on_epoch_end=score)
    assert [e for e, _ in seen] == [1, 2, 3]
    assert watched.losses == plain.losses  # ...and scoring there does not change the run
    assert not model.training
    # a run cut by max_steps in the middle of a pass reports only the full passes
    seen.clear()
    train(small("dot"), pairs, epochs=3, batch_size=32, lr=1e-2, seed=0, max_steps=5,
          progress=False, on_epoch_end=lambda n: seen.append((n, None)))
    assert [e for e, _ in seen] == [1]


def test_lr_decay_falls_linearly_to_zero_over_the_planned_steps(splits, monkeypatch):
    """Each Adam step's rate is lr * (1 - k / total), k = 0 .. total - 1; constant without."""
    used = []
    adam_step = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        used.append(self.param_groups[0]["lr"])
        return adam_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    pairs = splits["train"][:96]  # 3 batches of 32 a pass
    train(small("dot"), pairs, epochs=2, batch_size=32, lr=1e-2, seed=0, progress=False,
          lr_decay=True)
    assert used == pytest.approx([1e-2 * (1 - k / 6) for k in range(6)])
    used.clear()  # max_steps plans a shorter run: the rate reaches 0 at its end instead
    train(small("dot"), pairs, epochs=2, batch_size=32, lr=1e-2, seed=0, progress=False,
          lr_decay=True, max_steps=4)
    assert used == pytest.approx([1e-2, 7.5e-3, 5e-3, 2.5e-3])
    used.clear()
    train(small("dot"), pairs, epochs=1, batch_size=32, lr=1e-2, seed=0, progress=False)
    assert used == [1e-2] * 3


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_trains(rule, splits):
    model = small(rule)
    result = train(model, splits["train"][:128], epochs=2, batch_size=32, lr=1e-2, seed=0,
                   max_steps=6, progress=False)
    assert result.steps == 6 and result.epochs == 2
    assert result.losses[-1] < result.losses[0]


def test_dates_model_leaves_the_global_seed_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = small("additive")
    got = torch.rand(3)
    assert torch.equal(got, expected)
    b = small("additive")
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_translate(splits):
    model = small("additive")
    outputs, weights = model.translate(["23 Nov 2026", "Monday, the 23rd of November 2026"],
                                       max_len=11)
    assert len(outputs) == 2 and all(isinstance(o, str) for o in outputs)
    assert weights.shape == (2, 11, 33)
    model.train()
    model.translate(["23 Nov 2026"])
    assert model.training  # translate switches to eval mode and back


# ---------------------------------------------------------------- bad input
BAD = [
    ("unknown rule", lambda: check_rule("bahdanau"), ValueError,
     r"`rule` must be one of 'location', 'additive', 'dot', 'none' .* got 'bahdanau'"),
    ("rule not a str", lambda: check_rule(2), TypeError, r"`rule` must be a str.*got int 2"),
    ("model unknown rule", lambda: small("concat"), ValueError, r"one of 'location', 'additive'"),
    ("location needs length", lambda: Seq2Seq(CharVocab("ab"), CharVocab("cd"), rule="location"),
     ValueError, r"rule 'location' needs `max_source_len`"),
    ("length only for location", lambda: Seq2Seq(CharVocab("ab"), CharVocab("cd"), rule="dot",
                                                  max_source_len=5),
     ValueError, r"`max_source_len` is only used by rule 'location'; got max_source_len=5"),
    ("odd hidden", lambda: Seq2Seq(CharVocab("ab"), CharVocab("cd"), rule="dot", hidden_size=15),
     ValueError, r"`hidden_size` must be even .* got 15"),
    ("self-attention with none", lambda: small("none", encoder_self_attention=True), ValueError,
     r"`encoder_self_attention` has no effect with rule 'none'"),
    ("vocab type", lambda: Seq2Seq("ab", CharVocab("cd"), rule="dot"), TypeError,
     r"`source_vocab` must be an attnlib.seq2seq.CharVocab; got str"),
    ("float source", lambda: small("dot")(torch.zeros(2, 3), torch.tensor([3, 3]),
                                          torch.ones(2, 2, dtype=torch.long)),
     TypeError, r"`source` and `source_lengths` must be int64 ids; got torch.float32"),
    ("lengths too long", lambda: small("dot")(torch.ones(2, 3, dtype=torch.long),
                                              torch.tensor([3, 4]),
                                              torch.ones(2, 2, dtype=torch.long)),
     ValueError, r"`source_lengths` must be between 1 and S = 3; got \[3, 4\]"),
    ("batch mismatch", lambda: small("dot")(torch.ones(2, 3, dtype=torch.long),
                                            torch.tensor([3, 3]),
                                            torch.ones(3, 2, dtype=torch.long)),
     ValueError, r"`target_in` must have the same batch size B \(dim 0\) as `source`"),
    ("1-D target", lambda: small("dot")(torch.ones(2, 3, dtype=torch.long), torch.tensor([3, 3]),
                                        torch.ones(2, dtype=torch.long)),
     ValueError, r"`target_in` must be 2-D with shape \(B, L\); got 1-D shape \(2,\)"),
    ("unknown char", lambda: small("dot").translate(["23 Nov 2026!"]), ValueError,
     r"characters outside the vocabulary: \['!'\]"),
    ("epochs zero", lambda: train(small("dot"), [("1.1.2000", "2000-01-01")], epochs=0),
     ValueError, r"`epochs` must be a positive int; got 0"),
    ("pairs a str", lambda: train(small("dot"), "1.1.2000"), TypeError,
     r"`pairs` must be a non-empty list of \(source, target\) string pairs; got str"),
    ("pairs of lists", lambda: train(small("dot"), [["1.1.2000", "2000-01-01"]]), TypeError,
     r"`pairs` must hold \(source, target\) string pairs"),
    ("model type", lambda: exact_match(torch.nn.Linear(2, 2), [("a", "b")]), TypeError,
     r"`model` must be an nn.Module with source_vocab, target_vocab and translate, e.g. attnlib.seq2seq.Seq2Seq; got Linear"),
    ("progress not bool", lambda: train(small("dot"), [("1.1.2000", "2000-01-01")], progress=1),
     TypeError, r"`progress` must be True or False; got int 1"),
    ("callback not callable", lambda: train(small("dot"), [("1.1.2000", "2000-01-01")],
                                            on_epoch_end=3),
     TypeError, r"`on_epoch_end` must be callable, .* got int"),
    ("lr_decay not bool", lambda: train(small("dot"), [("1.1.2000", "2000-01-01")],
                                        lr_decay="yes"),
     TypeError, r"`lr_decay` must be True or False; got str 'yes'"),
]


@pytest.mark.parametrize("call,exc,pattern", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_gets_a_helpful_error(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


# ---------------------------------------------------------------- the command line
def test_cli_in_process(capsys):
    threads = torch.get_num_threads()
    try:
        numbers = main(["--rule", "dot", "--epochs", "1", "--n-train", "128", "--no-progress",
                        "--threads", "1"])
    finally:
        torch.set_num_threads(threads)  # the command line sets it for the whole process
    out = capsys.readouterr().out
    assert "rule: dot" in out and "exact match: val" in out and "long inputs" in out
    assert set(numbers) == {"train_seconds", "steps", "val", "test", "long"}
    assert numbers["steps"] == 2 and 0 <= numbers["long"] <= 1


def test_cli_as_a_module():
    proc = subprocess.run(
        [sys.executable, "-m", "attnlib.seq2seq", "--rule", "location", "--encoder-self-attention",
         "--epochs", "1", "--n-train", "64", "--seconds", "30", "--no-progress", "--threads", "1"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "rule: location + encoder self-attention" in proc.stdout
    assert re.search(r"trained 1 step \(1 epoch\) in [\d.]+ s", proc.stdout)  # singular
    assert "Warning" not in proc.stderr, proc.stderr


def test_cli_rejects_an_unknown_rule(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--rule", "bahdanau"])
    assert exit_info.value.code == 2
    assert "'location', 'additive', 'dot', 'none'" in capsys.readouterr().err


# ---------------------------------------------------------------- the chapter's exercise checker
def solution_step(state, memory, mask, combine):
    scores = (memory @ state[:, :, None]).squeeze(-1) / math.sqrt(state.shape[-1])  # (B, S)
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)  # (B, S)
    context = (weights[:, :, None] * memory).sum(1)  # (B, H)
    return torch.tanh(combine(torch.cat((state, context), dim=-1)))


def test_the_exercise_checker_passes_the_solution():
    report = check_decoder_attention_step(solution_step)
    assert report.passed, str(report)


@pytest.mark.parametrize("wrong,hint", [
    (lambda s, m, k, c: _unscaled(s, m, k, c), "divide the scores"),
    (lambda s, m, k, c: solution_step(s, m, torch.ones_like(k), c), "padded positions"),
    (lambda s, m, k, c: _swapped(s, m, k, c), "the state comes first"),
    (lambda s, m, k, c: torch.atanh(solution_step(s, m, k, c)), "apply torch.tanh"),
    (lambda s, m, k, c: solution_step(s, m, k, c)[:, None], "squeeze the query axis"),
    (lambda s, m, k, c: None, "forget a `return`"),
])
def test_the_exercise_checker_catches_typical_mistakes(wrong, hint):
    report = check_decoder_attention_step(wrong)
    assert not report.passed and hint in str(report), str(report)


def _unscaled(state, memory, mask, combine):
    scores = (memory @ state[:, :, None]).squeeze(-1)
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    context = (weights[:, :, None] * memory).sum(1)
    return torch.tanh(combine(torch.cat((state, context), dim=-1)))


def _swapped(state, memory, mask, combine):
    scores = (memory @ state[:, :, None]).squeeze(-1) / math.sqrt(state.shape[-1])
    weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
    context = (weights[:, :, None] * memory).sum(1)
    return torch.tanh(combine(torch.cat((context, state), dim=-1)))


def test_the_exercise_stub_is_reported_as_not_done():
    def stub(state, memory, mask, combine):
        raise NotImplementedError

    assert "not done yet" in str(check_decoder_attention_step(stub))
