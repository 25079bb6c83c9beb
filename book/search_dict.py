#!/usr/bin/env python3
"""The Chinese edition's search dictionary, made from the glossary at every build.

    .venv/bin/python book/search_dict.py            # print the dictionary jieba is given

Sphinx's Chinese search cuts the text into words with jieba, whose general dictionary does
not know the book's terms: it cut 自注意力 or 层归一化 into other pieces, and a search for the
term found nothing.  Every glossary entry of book/glossary.md starts its definition with the
Chinese name (``key`` -> ``键 (K). What each part ...``); this module reads those names, and
book/_ext/book_assets.py writes them as jieba's user dictionary (``html_search_options``'s
``dict``) when the Chinese edition is built, and indexes every name a page contains.
tests/test_search.py searches for every headword of both editions in the built book.
"""

from __future__ import annotations

import re
from pathlib import Path

GLOSSARY = Path(__file__).resolve().parent / "glossary.md"
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
# "  加性注意力. Rule 2 ...", "  坐标注意力 (CA). A ...", "  softmax (归一化指数函数). $..."
_NAME = re.compile(r"^(?P<name>[^.。(（]+?)\s*(?:[(（](?P<also>[^)）]*)[)）])?\s*(?:\.(?:\s|$)|。)")


def glossary_entries(glossary: Path = GLOSSARY) -> list[tuple[str, str, list[str]]]:
    """(English headword, Chinese name, other names in brackets) of every glossary entry.

    Read from the ``{glossary}`` block: an unindented line is a term, the first indented line
    after it starts the definition with the Chinese name and a full stop (the name is "" for
    an entry that does not; tests/test_browser.py fails on it).
    """
    text = glossary.read_text(encoding="utf-8")
    block = re.search(r"^(`{3,}|:{3,})\{glossary\}[^\n]*\n(.*?)^\1", text, re.S | re.M)
    if not block:
        return []
    entries, term = [], None
    for line in block.group(2).splitlines():
        if not line.strip() or line.startswith(":"):
            continue
        if not line[0].isspace():
            term = line.strip()
        elif term is not None:
            match = _NAME.match(line.strip())
            if not match:  # no Chinese name first: the search test names the entry
                entries.append((term, "", []))
            else:
                also = [a.strip() for a in re.split(r"[,，]", match["also"] or "")
                        if _HAN.search(a)]
                entries.append((term, match["name"].strip(), also))
            term = None
    return entries


def chinese_terms(glossary: Path = GLOSSARY) -> list[str]:
    """Every Chinese word of the glossary's names: each name and each run of Han characters in
    it (``KV 缓存`` gives ``缓存``), longest first, without repeats."""
    words = set()
    for _, name, also in glossary_entries(glossary):
        for n in [name, *also] if name else []:
            runs = _HAN.findall(n)
            words.update(runs)
            if runs and " " not in n and _HAN.fullmatch(n):
                words.add(n)
    return sorted(words, key=lambda w: (-len(w), w))


def write_dictionary(path: Path, glossary: Path = GLOSSARY) -> Path:
    """jieba's user-dictionary format: one word a line (jieba then gives it the frequency that
    keeps it whole)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{w}\n" for w in chinese_terms(glossary)), encoding="utf-8")
    return path


if __name__ == "__main__":
    print("\n".join(chinese_terms()))
