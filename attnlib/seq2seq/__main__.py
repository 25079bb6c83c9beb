"""``python -m attnlib.seq2seq``: see :mod:`attnlib.seq2seq.cli`."""

from .cli import main

main()
