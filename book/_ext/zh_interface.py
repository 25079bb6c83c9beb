"""The Chinese edition's words around the prose (a local Sphinx extension; see _config.yml).

Sphinx's gettext machinery translates the prose of each page from its catalog,
locale/zh_CN/LC_MESSAGES/<page>.po.  Some of what a reader sees is not prose and never
reaches those catalogs: the titles of exercise boxes (sphinx-exercise makes them from the
directive's argument, after translation), the alt text of figures and the labels of the
static sliders (cell metadata and outputs), the English labels inside display equations
(`\\text{bytes}`), and the theme's own strings ("Search this book...", "Link to this
heading", "Toggle primary sidebar", the author).  This extension translates all of them in
the Chinese edition from one catalog, locale/zh_CN/LC_MESSAGES/interface.po, and does
nothing in the English one.  An entry whose English is not (or no longer) in the catalog
shows in English, never as a stale translation; tests/test_editions.py lists every English
string left on a Chinese page.

How each kind of string is reached:

1. Exercise and solution titles: a handler of `doctree-resolved`, after sphinx-exercise's
   post-transforms have built the titles ("Exercise 4.1 (Count the parameters)" and
   "Solution to Exercise 4.1 (Count the parameters)"), replaces the part in brackets by its
   translation in full-width brackets.
2. Figure alt texts and labels in display equations: the same handler translates the alt
   text of each image node (before the page is written, so that book_assets.py no longer
   finds English alt text to mark lang="en") and each `\\text{...}` of a display equation
   that the catalog has.
3. Static sliders (attnlib.widgets.static_slider, raw HTML in a cell output): the label
   before the value and the alt text of every frame.
4. The theme's strings: the catalog's messages are added to the message catalogs Sphinx,
   the themes and the extensions translate with (Sphinx looks the user's catalogs up first
   only for its own domain), a few that are configuration values are set, and when the
   build has finished, every `title`, `aria-label`, `placeholder` and `alt` attribute of a
   page whose whole value is a message of the catalog is replaced by its translation (the
   templates write some of them in English with no gettext call).
5. The glossary, `:sorted:`, is sorted again after translation in pinyin order (GB2312
   orders its 3,755 common characters by pinyin), terms in Latin letters first.
6. book/static/zh.css, linked from the Chinese pages only, draws “ ” ‘ ’ — … with the
   bundled CJK font (full width; the English edition keeps the Latin forms).

A message whose msgid contains `{}` is a pattern: each `{}` stands for any text, which the
translation repeats in the same order (alt texts that code writes with numbers in them).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms import SphinxTransform

CATALOG = "interface"  # locale/<language>/LC_MESSAGES/interface.po
ATTRIBUTES = ("title", "aria-label", "placeholder", "alt", "data-bs-title")
TOGGLE_HINTS = {"togglebutton_hint": "Click to show", "togglebutton_hint_hide": "Click to hide"}
QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def _is_chinese(config) -> bool:
    return (config.language or "en").startswith("zh")


class Interface:
    """The interface catalog: exact messages, and patterns with `{}` for any text."""

    def __init__(self, messages: dict[str, str]):
        self.exact = {k.translate(QUOTES): v for k, v in messages.items() if "{}" not in k}
        self.patterns = []
        for english, chinese in messages.items():
            if "{}" in english:
                parts = [re.escape(p) for p in english.translate(QUOTES).split("{}")]
                self.patterns.append((re.compile("^" + "(.+?)".join(parts) + "$", re.S),
                                      chinese))

    @classmethod
    def load(cls, folders: list[Path], language: str) -> "Interface":
        from babel.messages.pofile import read_po

        messages = {}
        for folder in folders:
            path = folder / language / "LC_MESSAGES" / f"{CATALOG}.po"
            if path.exists():
                with path.open("rb") as f:
                    messages.update({m.id: m.string for m in read_po(f)
                                     if m.id and m.string and not m.fuzzy})
        return cls(messages)

    def get(self, english: str) -> str | None:
        key = english.translate(QUOTES)
        if key in self.exact:
            return self.exact[key]
        for pattern, chinese in self.patterns:
            m = pattern.match(key)
            if m:
                parts = chinese.split("{}")
                return "".join(p + g for p, g in zip(parts, [*m.groups(), ""]))
        return None

    def __call__(self, english: str) -> str:
        return self.get(english) or english


def _interface(app) -> Interface | None:
    return getattr(app, "zh_interface", None)


def load_catalog(app, config):
    """Read interface.po and set the configuration values that hold interface strings."""
    if not _is_chinese(config):
        return
    folders = [Path(app.srcdir) / d for d in config.locale_dirs]
    tr = app.zh_interface = Interface.load(folders, config.language)
    options = dict(config.html_theme_options or {})
    options["search_bar_text"] = tr(options.get("search_bar_text") or "Search this book...")
    config.html_theme_options = options
    config.author = tr(config.author)
    for name, english in TOGGLE_HINTS.items():  # sphinx-togglebutton's, set at its setup
        if name in config:
            setattr(config, name, tr(english))


def merge_into_translators(app):
    """Give every loaded message catalog (Sphinx's, the themes', the extensions') ours first.

    Also link zh.css (book/static), which draws “ ” ‘ ’ — … with the bundled CJK font.
    """
    tr = _interface(app)
    if tr is None:
        return
    app.add_css_file("zh.css")
    from gettext import GNUTranslations

    from sphinx.locale import translators

    for key, translator in list(translators.items()):
        if isinstance(translator, GNUTranslations):
            translator._catalog.update(tr.exact)


# --- the page's own strings, after sphinx-exercise has built the titles ---------------------

def _translate_bracket(tr: Interface, children: list[nodes.Node]) -> None:
    """In a title's children, turn ' (' ... ')' into '（translation）'."""
    starts = [i for i, c in enumerate(children) if isinstance(c, nodes.Text) and c == " ("]
    ends = [i for i, c in enumerate(children) if isinstance(c, nodes.Text) and c == ")"]
    if not starts or not ends or ends[-1] < starts[0]:
        return
    i, j = starts[0], ends[-1]
    english = "".join(c.astext() for c in children[i + 1:j])
    chinese = tr.get(english)
    inner = [nodes.Text(chinese)] if chinese else list(children[i + 1:j])
    children[i:j + 1] = [nodes.Text("（"), *inner, nodes.Text("）")]


def _exercise_titles(tr: Interface, doctree) -> None:
    for admonition in doctree.findall(nodes.Admonition):
        if not admonition.children or not isinstance(admonition[0], nodes.title):
            continue
        title = admonition[0]
        if not ({"exercise", "solution"} & set(admonition.get("classes", []))
                or type(admonition).__name__.startswith(("exercise", "solution"))):
            continue
        for holder in [title, *title.findall(nodes.reference)]:
            kids = list(holder.children)
            _translate_bracket(tr, kids)
            if kids != list(holder.children):
                holder.children = []
                holder.extend(kids)


# a label, not a symbol's subscript (C_\text{full}, z_{\text{next}}); an \underbrace's is one
TEXT = re.compile(r"(?<![\w']_)(?<![\w']_\{)\\text\{([^{}]*)\}")


def _equation_labels(tr: Interface, doctree) -> None:
    for block in list(doctree.findall(nodes.math_block)):
        latex = block.astext()
        new = TEXT.sub(lambda m: "\\text{" + tr(m.group(1)) + "}", latex)
        if new != latex:
            block.children = []
            block.append(nodes.Text(new))


LABEL = re.compile(r'(<label for="[^"]*-range"[^>]*>)(.*?)( = <output)', re.S)
ARIA = re.compile(r'(<input type="range"[^>]*aria-label=")([^"]*)(")')
ALTS = re.compile(r"(alts = )(\[.*?\]);")


def _slider(tr: Interface, text: str) -> str:
    def attr(m):
        return m.group(1) + html.escape(tr(html.unescape(m.group(2)))) + m.group(3)

    text = LABEL.sub(attr, text)
    text = ARIA.sub(attr, text)
    return ALTS.sub(lambda m: m.group(1) + json.dumps(
        [tr(a) for a in json.loads(m.group(2))], ensure_ascii=False).replace("</", "<\\/")
        + ";", text)


def _sliders(tr: Interface, doctree) -> None:
    for raw in list(doctree.findall(nodes.raw)):
        text = raw.astext()
        if 'class="attnlib-slider"' in text:
            new = _slider(tr, text)
            if new != text:
                raw.children = []
                raw.append(nodes.Text(new))


def _image_alts(tr: Interface, doctree) -> None:
    for image in doctree.findall(nodes.image):
        if image.get("alt"):
            image["alt"] = tr(image["alt"])


def translate_page(app, doctree, docname):
    tr = _interface(app)
    if tr is None:
        return
    _exercise_titles(tr, doctree)
    _image_alts(tr, doctree)  # before the page is written: book_assets marks English alt text
    _equation_labels(tr, doctree)
    _sliders(tr, doctree)


# --- attributes of the written pages ------------------------------------------------------

ATTRIBUTE = re.compile(r'(\s(?:%s)=")([^"]*)(")' % "|".join(ATTRIBUTES))


def translate_attributes(text: str, tr: Interface) -> str:
    def one(m):
        chinese = tr.get(html.unescape(m.group(2)))
        return m.group(1) + html.escape(chinese) + m.group(3) if chinese else m.group(0)

    return ATTRIBUTE.sub(one, text)


def rewrite_pages(app, exception):
    tr = _interface(app)
    if tr is None or exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        new = translate_attributes(text, tr)
        if new != text:
            page.write_text(new, encoding="utf-8")


# --- the glossary in pinyin order -----------------------------------------------------------

def pinyin_key(term: str) -> bytes:
    """Sort key: GB2312 orders its common characters by pinyin; Latin letters come first."""
    return term.lower().encode("gb18030", errors="replace")


class GlossaryInPinyinOrder(SphinxTransform):
    """Sort a `:sorted:` glossary of the Chinese edition by pinyin (after GlossarySorter)."""

    default_priority = 501

    def apply(self, **kwargs):
        if not _is_chinese(self.config):
            return
        for glossary in self.document.findall(addnodes.glossary):
            if glossary.get("sorted"):
                items = glossary[0]
                items[:] = sorted(items, key=lambda item: pinyin_key(item[0].astext()))


def setup(app):
    app.connect("config-inited", load_catalog, priority=100)
    app.connect("builder-inited", merge_into_translators)
    app.connect("doctree-resolved", translate_page)
    app.connect("build-finished", rewrite_pages)
    app.add_transform(GlossaryInPinyinOrder)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
