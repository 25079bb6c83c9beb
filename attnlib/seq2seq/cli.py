"""The command line, ``python -m attnlib.seq2seq``: train one variant on the dates task."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import torch

from . import dates
from .gru import RULES, check_rule
from .training import dates_model, exact_match, train


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """The command line: train one variant on the dates task and print its numbers."""
    parser = argparse.ArgumentParser(
        prog="python -m attnlib.seq2seq",
        description="Train one GRU encoder-decoder on the dates task (attnlib.dates) and print "
                    "its exact-match accuracy on the test set and on the longer inputs.")
    parser.add_argument("--rule", default="additive",
                        help=f"decoder attention, one of {', '.join(RULES)} (default: additive)")
    parser.add_argument("--encoder-self-attention", action="store_true",
                        help="add a rule-3 self-attention layer on the encoder side")
    parser.add_argument("--seed", type=int, default=0, help="seed of data, model and shuffling")
    parser.add_argument("--epochs", type=int, default=4,
                        help="passes over the training set (default 4; the chapter uses 2)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="also stop after this many seconds of training (not deterministic)")
    parser.add_argument("--n-train", type=int, default=6000, help="training pairs")
    parser.add_argument("--threads", type=int, default=2,
                        help="torch CPU threads (default 2; 1 is faster on a busy machine)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    try:
        check_rule(args.rule)
    except ValueError as err:
        parser.error(str(err))
    for name in ("epochs", "n_train", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.seconds is not None and not args.seconds > 0:
        parser.error("--seconds must be positive")

    try:
        model = dates_model(args.rule, encoder_self_attention=args.encoder_self_attention,
                            seed=args.seed)
    except ValueError as err:
        parser.error(str(err))
    torch.set_num_threads(args.threads)
    splits = dates.make_splits(args.seed, n_train=args.n_train)
    name = args.rule + (" + encoder self-attention" if args.encoder_self_attention else "")
    print(f"rule: {name}; {len(splits['train'])} training pairs, inputs up to "
          f"{max(len(s) for s, _ in splits['train'])} chars; long inputs "
          f"{min(len(s) for s, _ in splits['long'])}..{max(len(s) for s, _ in splits['long'])} "
          f"chars; torch {torch.__version__}, CPU threads: {torch.get_num_threads()}", flush=True)
    result = train(model, splits["train"], epochs=args.epochs, seed=args.seed,
                   max_seconds=args.seconds, progress=not args.no_progress)
    numbers = {"train_seconds": result.seconds, "steps": result.steps}
    for split in ("val", "test", "long"):
        numbers[split] = exact_match(model, splits[split])
    print(f"trained {result.steps} step{'' if result.steps == 1 else 's'} "
          f"({result.epochs} epoch{'' if result.epochs == 1 else 's'}) in {result.seconds:.2f} s; "
          f"final loss {result.losses[-1]:.4f}")
    print(f"exact match: val {numbers['val']:.1%}, test {numbers['test']:.1%}, "
          f"long inputs {numbers['long']:.1%}")
    sys.stdout.flush()
    return numbers
