"""Chapter numbers are file numbers (a local Sphinx extension; see _config.yml).

The table of contents numbers its chapter parts (``numbered: true`` in _toc.yml), and Sphinx
counts the chapters it finds: 1, 2, 3, ... in reading order.  The course's files carry their
chapter number in their name (``notebooks/09_transformer.ipynb`` is chapter 9), and the prose
says "chapter 9" for that file.  A chapter that is not written yet would shift every later
count, so after Sphinx has numbered the sections this extension sets the first number of
every section of ``notebooks/NN_*`` to ``NN``: in the sidebar and page titles (the section
numbers), and in the numbers of equations, exercises and figures ("(9.12)", "Exercise 9.3"),
which Sphinx derives from the section numbers.  Pages without a number in their name keep
what Sphinx gave them.
"""

from __future__ import annotations

import re

from docutils import nodes

_CHAPTER = re.compile(r"(?:^|/)(\d\d)_[^/]+$")


def chapter_of(docname: str) -> int | None:
    """The chapter number in a page's name: ``notebooks/09_transformer`` -> 9, else None."""
    match = _CHAPTER.search(docname)
    return int(match.group(1)) if match else None


def _renumber(number: tuple[int, ...], chapter: int) -> tuple[int, ...]:
    return (chapter, *number[1:]) if number else number


def renumber_chapters(app, env) -> list[str]:
    """After Sphinx's own numbering (env-get-updated): first number = the file's number."""
    changed = []
    for docname, numbers in env.toc_secnumbers.items():
        chapter = chapter_of(docname)
        if chapter is None or not numbers:
            continue
        env.toc_secnumbers[docname] = {
            anchor: _renumber(number, chapter) for anchor, number in numbers.items()}
        for ref in env.tocs[docname].findall(nodes.reference):
            if ref.get("secnumber"):
                ref["secnumber"] = _renumber(tuple(ref["secnumber"]), chapter)
        for title in (env.titles.get(docname), env.longtitles.get(docname)):
            if title is not None and title.get("secnumber"):
                title["secnumber"] = _renumber(tuple(title["secnumber"]), chapter)
        for kinds in [env.toc_fignumbers.get(docname, {})]:
            for figtype, ids in kinds.items():
                kinds[figtype] = {i: _renumber(n, chapter) for i, n in ids.items()}
        changed.append(docname)
    return changed


def setup(app):
    # after the toctree collector, which numbers sections and figures in the same event
    app.connect("env-get-updated", renumber_chapters, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
