#!/usr/bin/env python3
"""Make the book's CJK font: Noto Sans CJK SC cut down to the characters the book uses.

    .venv/bin/python book/fonts/subset_cjk.py           # write the font
    .venv/bin/python book/fonts/subset_cjk.py --check   # exit 1 if the font lacks a character

The book is read on machines with no Chinese font, where CJK text would show as
boxes.  So the build ships a subset of Noto Sans CJK SC (SIL Open Font Licence
1.1, text in book/static/fonts/OFL.txt) holding only the CJK characters found in
the sources the book is built from, and the punctuation Chinese shares with English
(ZH_PUNCTUATION, “ ” ‘ ’ — …, drawn from this font in the Chinese edition only):

- book/**/*.md and book/**/*.bib (prose pages, the bibliography),
- notebooks/*.ipynb (every cell's source and every stored text output),
- locale/**/*.po (the Chinese edition's translations),
- book/**/*.py (the edition link "中文版", the Chinese edition's title),
- _config.yml and _toc.yml (title, captions),
- the zh_CN catalogs of Sphinx, sphinx-book-theme and sphinx-exercise, which the
  Chinese edition's buttons, menus, search page and exercise labels come from.

It reads the full font from Debian's fonts-noto-cjk package (or the path given
with --source) and writes WOFF (zlib; WOFF2 would need brotli) to
book/static/fonts/NotoSansCJKsc-subset.woff, which book/static/book.css loads
with @font-face.  Run it again whenever the book gains a CJK character; the
test tests/test_book.py::test_bundled_cjk_font_covers_the_built_book fails until you do.
Needs fontTools (in the course's .venv).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
FAMILY = "Noto Sans CJK SC"
OUTPUT = ROOT / "book" / "static" / "fonts" / "NotoSansCJKsc-subset.woff"

# What counts as a CJK character.  book/static/book.css's @font-face
# `unicode-range` lists the same blocks, so the bundled font is used for exactly these.
CJK_RANGES = [
    (0x2E80, 0x2FDF),  # CJK radicals, Kangxi radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation (、。「」…)
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3100, 0x312F),  # bopomofo
    (0x31C0, 0x31EF),  # CJK strokes
    (0x3200, 0x33FF),  # enclosed CJK, CJK compatibility
    (0x3400, 0x4DBF),  # CJK unified ideographs extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF00, 0xFFEF),  # halfwidth and fullwidth forms (，？：（）)
]


# Punctuation Chinese text shares with English: curly quotes, the dash (—— is two of them) and
# the ellipsis.  They are outside the CJK blocks, so book.css's face never draws them (the
# English edition keeps its Latin forms); the font always holds them, and book/static/zh.css,
# which only the Chinese edition loads, adds them to the face's unicode-range.
ZH_PUNCTUATION = "\u2014\u2018\u2019\u201c\u201d\u2026"  # — ‘ ’ “ ” …


def zh_unicode_range_css() -> str:
    """ZH_PUNCTUATION as the `unicode-range` value book/static/zh.css must say."""
    codes = sorted(ord(c) for c in ZH_PUNCTUATION)
    runs, start = [], codes[0]
    for a, b in zip(codes, codes[1:] + [None]):
        if b != a + 1:
            runs.append(f"U+{start:04X}" if start == a else f"U+{start:04X}-{a:04X}")
            start = b
    return ", ".join(runs)


def is_cjk(char: str) -> bool:
    """True for a character in one of the CJK blocks above."""
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in CJK_RANGES)


_CJK = re.compile("[" + "".join(f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in CJK_RANGES) + "]")


def cjk_characters(text: str) -> set[str]:
    """The characters of ``text`` in the CJK blocks (a built chapter is megabytes: one
    regular expression, not a test per character)."""
    return set(_CJK.findall(text))


def unicode_range_css() -> str:
    """The blocks as a CSS `unicode-range` value (what book.css must say)."""
    return ", ".join(f"U+{lo:04X}-{hi:04X}" for lo, hi in CJK_RANGES)


def _strings(obj):
    """Every string inside a JSON value (a notebook: sources, outputs, metadata)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _strings(value)


def source_files(root: Path = ROOT) -> list[Path]:
    """The files the book is built from that can hold text a reader sees."""
    files = [*sorted((root / "book").rglob("*.md")), *sorted((root / "book").rglob("*.bib")),
             *sorted((root / "notebooks").glob("*.ipynb")),
             *sorted((root / "locale").rglob("*.po")), *sorted((root / "book").rglob("*.py"))]
    files += [root / name for name in ("_config.yml", "_toc.yml") if (root / name).exists()]
    return files


UI_PACKAGES = ("sphinx", "sphinx_book_theme", "sphinx_exercise")


def ui_catalogs() -> list[Path]:
    """The compiled zh_CN message catalogs of the packages that write the pages' chrome."""
    import importlib.util

    found = []
    for name in UI_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit(f"{name} is not installed: run this with the course's .venv")
        folder = Path(list(spec.submodule_search_locations)[0])
        found += sorted(folder.rglob("zh_CN/LC_MESSAGES/*.mo"))
    return found


def characters_used(root: Path = ROOT) -> set[str]:
    """Every CJK character in the book's sources and in the chrome's zh_CN catalogs."""
    from babel.messages.mofile import read_mo

    found: set[str] = set()
    for path in ui_catalogs():
        with path.open("rb") as f:
            for message in read_mo(f):
                strings = message.string if isinstance(message.string, tuple) else [message.string]
                found.update(*(cjk_characters(text) for text in strings if text))
    for path in source_files(root):
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ipynb":
            # JSON may escape characters as \\uXXXX: read the decoded strings
            text = "\n".join(_strings(json.loads(text)))
        found.update(cjk_characters(text))
    return found


def font_characters(path: Path = OUTPUT) -> set[str]:
    """The characters a font file maps to a glyph (its cmap)."""
    from fontTools.ttLib import TTFont

    with TTFont(path) as font:
        return {chr(code) for code in font.getBestCmap()}


def _load_source(source: Path):
    from fontTools.ttLib import TTCollection, TTFont

    if source.suffix.lower() == ".ttc":
        for font in TTCollection(source).fonts:
            if font["name"].getDebugName(1) == FAMILY:
                return font
        raise SystemExit(f"{source} holds no font named {FAMILY!r}")
    return TTFont(source)


def write_subset(chars: set[str], source: Path = SOURCE, output: Path = OUTPUT) -> None:
    """Write a WOFF font with the glyphs for `chars` (and nothing else) from `source`."""
    from fontTools import subset

    font = _load_source(source)
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]   # keep vertical/proportional forms the text may use
    options.name_IDs = ["*"]          # keep copyright, licence and trademark notices
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False           # CFF hints add size and little on screens
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in chars))
    subsetter.subset(font)
    output.parent.mkdir(parents=True, exist_ok=True)
    font.flavor = "woff"
    font.save(output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE,
                        help=f"the full font (default: {SOURCE})")
    parser.add_argument("--check", action="store_true",
                        help="only check that the bundled font covers the sources")
    args = parser.parse_args(argv)
    chars = characters_used() | set(ZH_PUNCTUATION)
    if args.check:
        missing = sorted(chars - font_characters()) if OUTPUT.exists() else sorted(chars)
        if missing:
            print(f"{OUTPUT.relative_to(ROOT)} lacks {len(missing)} character(s): "
                  f"{''.join(missing)}; run book/fonts/subset_cjk.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(ROOT)} covers all {len(chars)} CJK characters")
        return 0
    if not args.source.exists():
        print(f"{args.source} not found: install Debian's fonts-noto-cjk or pass --source",
              file=sys.stderr)
        return 1
    write_subset(chars, args.source)
    print(f"wrote {OUTPUT.relative_to(ROOT)}: {len(chars)} characters, "
          f"{OUTPUT.stat().st_size / 1024:.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
