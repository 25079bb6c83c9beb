"""Chapter 14, vision Transformers: the checkers for its coding exercises."""

from __future__ import annotations

import torch

from ._report import Case, Report, _close, _gen, _run, plural
from .beyond_sequences import _counts, _exact  # three counts read and shown as in chapter 13


def check_patch_counts(patch_counts) -> Report:
    """Chapter 14: ``patch_counts(img_size, patch_size, num_heads)`` for a square image.

    Returns three ints:
        - ``N``, the number of patches: ``(img_size / patch_size) ** 2``
        - the ViT's sequence length: ``N + 1`` (the class token)
        - the parameters of a relative position bias table over the ``g x g`` patch
          grid (``g = img_size / patch_size``): ``(2g - 1) ** 2 * num_heads``
    """
    cases = []
    for img, patch, heads in [(12, 3, 2), (224, 16, 12), (32, 4, 4), (384, 32, 6)]:
        g = img // patch
        expected = torch.tensor([g * g, g * g + 1, (2 * g - 1) ** 2 * heads],
                                dtype=torch.float64)
        wrongs = [  # (which count, a value a known mistake gives, its hint)
            (0, g, "hint: the patches tile the image in both directions:\n"
                   "(img_size / patch_size) along each side, squared."),
            (0, img * img // patch, "hint: divide each side by the patch size, then square;\n"
                                    "img_size**2 / patch_size is not the patch count."),
            (1, g * g, "hint: the class token is one more token in the sequence."),
            (2, g ** 4 * heads, "hint: the table has one row per offset, not per pair:\n"
                                "offsets run over 2g - 1 values along each axis."),
            (2, (2 * g - 1) ** 2, "hint: every head has its own column of the table."),
            (2, (2 * g + 1) ** 2 * heads, "hint: offsets run from -(g - 1) to g - 1:\n"
                                          "that is 2g - 1 values, not 2g + 1."),
        ]

        def diagnose(got, expected=expected, wrongs=wrongs):
            for i, value, hint in wrongs:
                if got[i] != expected[i] and got[i].item() == value:
                    return hint
            return "hint: start from g = img_size // patch_size, the patches per side."
        cases.append(Case(f"img_size {img}, patch_size {patch}, {plural(heads, 'head')}",
                          (img, patch, heads), expected, diagnose, rtol=0, atol=0,
                          error_hint="hint: patch_counts gets three ints and returns\n"
                          "three ints; no tensors are needed."))
    return _run("patch_counts", patch_counts, cases, pick=_counts,
                returns="a tuple of three ints",
                return_hint="hint: end with `return patches, tokens, table`.", show=_exact)


def _index(height: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The row and column offsets ``y_i - y_j``, ``x_i - x_j`` of every pixel pair."""
    y = torch.arange(height).repeat_interleave(width)  # (L,)
    x = torch.arange(width).repeat(height)  # (L,)
    return y[:, None] - y[None, :], x[:, None] - x[None, :]  # (L, L) each


def check_relative_index(relative_index) -> Report:
    """Chapter 14: ``relative_index(height, width)``, the table row of every pixel pair.

    Pixels are numbered row by row; pixel ``i`` is at ``(i // width, i % width)``.

    Shapes:
        - returns: ``(L, L)`` integers with ``L = height * width``; entry ``(i, j)`` is
          ``(y_i - y_j + height - 1) * (2 width - 1) + (x_i - x_j + width - 1)``
    """
    cases = []
    for h, w in [(2, 4), (3, 3), (4, 2), (1, 5)]:
        dy, dx = _index(h, w)
        expected = (dy + h - 1) * (2 * w - 1) + (dx + w - 1)
        wrongs = [
            ((-dy + h - 1) * (2 * w - 1) + (-dx + w - 1),
             "hint: the offset is query minus key, y_i - y_j: you have\n"
             "key minus query (the transpose)."),
            (dy * (2 * w - 1) + dx,
             "hint: shift each offset to start at 0 (add height - 1 and\n"
             "width - 1) before combining them."),
            ((dy + h - 1) * (2 * h - 1) + (dx + w - 1),
             "hint: a row offset steps over all 2 width - 1 column\n"
             "offsets, so multiply it by 2 width - 1, not 2 height - 1."),
            ((dx + w - 1) * (2 * h - 1) + (dy + h - 1),
             "hint: the row offset is the major index (times 2 width - 1),\n"
             "the column offset the minor one."),
            ((dy + h - 1) * w + (dx + w - 1),
             "hint: there are 2 width - 1 column offsets, not width."),
        ]

        def diagnose(got, wrongs=wrongs):
            return next((hint for wrong, hint in wrongs if _close(got, wrong)), None)
        cases.append(Case(f"height {h}, width {w}", (h, w), expected, diagnose,
                          rtol=0, atol=0,
                          error_hint="hint: build the rows y and columns x of the L pixels\n"
                          "with torch.arange, then broadcast y[:, None] - y[None, :]."))
    return _run("relative_index", relative_index, cases)


def check_rollout(rollout) -> Report:
    """Chapter 14: ``rollout(maps)``, attention rollout (Abnar and Zuidema, 2020).

    Average the heads, count the residual as ``(A + I) / 2``, multiply the blocks'
    maps with the first block rightmost: ``R = A'_depth ... A'_1``.

    Shapes:
        - maps: ``(depth, B, heads, L, L)``, rows summing to 1
        - returns: ``(B, L, L)``, rows summing to 1
    """
    cases = []
    for depth, B, heads, L in [(1, 1, 1, 3), (2, 2, 2, 4), (3, 2, 3, 5)]:
        maps = torch.rand(depth, B, heads, L, L, generator=_gen(depth * 10 + L)) + 0.1
        maps = maps / maps.sum(-1, keepdim=True)
        eye = torch.eye(L)

        def chain(a, first_right=True):
            r = a[0]
            for m in a[1:]:
                r = m @ r if first_right else r @ m
            return r
        mean = maps.mean(2)
        expected = chain((mean + eye) / 2)
        wrongs = [
            (chain(mean), "hint: count the residual connection: use (A + I) / 2\n"
                          "in each block before multiplying."),
            (chain((mean + eye) / 2, first_right=False),
             "hint: the first block acts first, so it is the rightmost\n"
             "factor: R = A'_depth ... A'_2 A'_1."),
            (chain(mean + eye), "hint: divide A + I by 2 so that each row still sums to 1."),
            (chain((maps.amax(2) + eye) / 2),
             "hint: average the heads; do not take their maximum."),
        ]

        def diagnose(got, wrongs=wrongs):
            return next((hint for wrong, hint in wrongs if _close(got, wrong)), None)
        cases.append(Case(f"{depth} block(s), B {B}, {heads} head(s), L {L}", (maps,),
                          expected, diagnose))
    return _run("rollout", rollout, cases)
