"""Fixes to the pinned toolchain's pages (a local Sphinx extension; see _config.yml).

1. Inline scripts written twice.  Sphinx 7.4 re-adds, when it starts writing, every asset an
   extension registered after the builder was made; an inline script (no file name) comes back
   with the file name "" instead of None, so it no longer compares equal and each page gets it
   twice.  sphinx-thebe's `const THEBE_JS_URL = ...` then fails the second time ("Identifier
   'THEBE_JS_URL' has already been declared"), and sphinx-togglebutton's selector is set twice.
   Each page's script list is de-duplicated here, by file name (None and "" alike), body and
   attributes, keeping the first of each.

2. pydata-sphinx-theme's first-visit mode.  With no stored choice the page starts in mode ""
   (jupyter-book sets no `default_mode` in the template context), which the theme reports as
   an error ("Got invalid theme mode") before falling back to "auto".  Saying "auto" up front
   is the same behaviour without the error.

3. Citations of an undated work.  sphinxcontrib-bibtex's author-year style writes "n.d." where
   an entry has no year.  The source article carries no date, so its citations name how it was
   published instead (its `howpublished` field, "online tutorial"); dated entries are unchanged.

4. The two editions.  book/editions.py builds the book twice, English at the root of the
   site and Chinese (language zh_CN) under zh/.  Every page gets a link, at the top of its
   text, to the same page in the other edition, and `<link rel="alternate" hreflang>` links
   to both editions at the site's address (`html_baseurl` in _config.yml).

5. Search.  The Chinese edition's index is cut into words by jieba with the glossary's terms
   as its user dictionary (book/search_dict.py, written at every build), every glossary term a
   page contains is indexed whatever jieba made of it, one-character words (键, 值) are kept, and
   the query is cut into the index's words in the browser (book/search_tools.js, which also
   puts the glossary's entries after the pages that use a term, in both editions).

6. What each page tells a screen reader, a search engine and a browser tab: Chinese runs of an
   English page and English image descriptions of a Chinese page carry `lang`, bibliography
   entries are list items, every page has a meta description (its first paragraph), and the
   home page's title is not "X — X".

7. The widgets' icon fonts.  html-manager's bundles each take the folder of their own module
   as the place of their fonts: one asks for them in notebooks/@jupyter-widgets/html-manager/
   dist/ (book/extra, copied by `html_extra_path`), another in notebooks/@jupyter-widgets/,
   whichever loads its styles last (a slower page, as under Lighthouse, got 404s).  The build
   puts the same files in both folders.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def _key(asset):
    attributes = tuple(sorted((k, str(v)) for k, v in getattr(asset, "attributes", {}).items()))
    return (getattr(asset, "filename", asset) or "", attributes)


def fix_page(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for asset in context.get("script_files") or []:
        key = _key(asset)
        if key not in seen:
            seen.add(key)
            kept.append(asset)
    context["script_files"] = kept
    if not context.get("default_mode"):
        context["default_mode"] = "auto"


EDITION_FOLDER = "zh/"  # where book/editions.py puts the Chinese edition


def _chinese(app) -> bool:
    return (app.config.language or "en").startswith("zh")


def site_address(app) -> str:
    """The English edition's address, html_baseurl in _config.yml, ending in "/"."""
    base = (app.config.html_baseurl or "").rstrip("/") + "/"
    return base[:-len(EDITION_FOLDER)] if base.endswith("/" + EDITION_FOLDER) else base


def edition_address(app, config):
    """The Chinese edition lives under zh/ of the site: its canonical links say so."""
    if _chinese(app) and config.html_baseurl:
        config.html_baseurl = site_address(app) + EDITION_FOLDER


def link_other_edition(app, pagename, templatename, context, doctree):
    """Put a link to the same page in the other edition at the top of the page's text, and
    say where both editions of the page are (absolute `hreflang` links, itself included)."""
    if "body" not in context:
        return
    up = "../" * pagename.count("/")
    if _chinese(app):
        href, lang, text, title = (f"{up}../{pagename}.html", "en", "English",
                                   "Read this page in English")
    else:
        href, lang, text, title = (f"{up}{EDITION_FOLDER}{pagename}.html", "zh-CN", "中文版",
                                   "阅读本页的中文版")
    context["body"] = (f'<p class="edition-switch"><a href="{href}" hreflang="{lang}" '
                       f'lang="{lang}" title="{title}">{text}</a></p>\n' + context["body"])
    if app.config.html_baseurl:
        site = site_address(app)
        context["metatags"] = context.get("metatags", "") + "".join(
            f'\n<link rel="alternate" hreflang="{code}" href="{site}{folder}{pagename}.html" />'
            for code, folder in (("en", ""), ("zh-CN", EDITION_FOLDER),
                                 ("x-default", "")))


# --- what a screen reader, a search engine and a browser tab need of each page --------------

_CJK_RUN = re.compile(r"[\u2e80-\u2fdf\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
                      r"\uff00-\uffef]+(?:[\s\d]*[\u2e80-\u2fdf\u3000-\u303f\u3400-\u4dbf"
                      r"\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+)*")
_TAG = re.compile(r"(<[^>]*>)")
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
         "track", "wbr"}
_RAW = {"script", "style", "textarea", "title"}


def mark_chinese_runs(body: str) -> str:
    """Wrap every run of Chinese text of an English page in <span lang="zh-CN"> (WCAG 3.1.2:
    a screen reader then reads it with a Chinese voice).  Text inside formulas (TeX for
    MathJax), scripts and elements that already say their language is left alone."""
    out, stack = [], []  # stack: (tag name, leaves alone)
    for token in _TAG.split(body):
        if token.startswith("<") and token.endswith(">"):
            name = re.match(r"</?\s*([a-zA-Z0-9-]+)", token)
            name = name.group(1).lower() if name else ""
            if token.startswith("</"):
                while stack:
                    if stack.pop()[0] == name:
                        break
            elif name and name not in _VOID and not token.endswith("/>"):
                classes = re.search(r'class="([^"]*)"', token)
                skip = (name in _RAW or " lang=" in token
                        or bool(classes and "math" in classes.group(1).split()))
                stack.append((name, skip))
            out.append(token)
        elif any(skip for _, skip in stack):
            out.append(token)
        else:
            out.append(_CJK_RUN.sub(lambda m: f'<span lang="zh-CN">{m.group(0)}</span>', token))
    return "".join(out)


def mark_english_alt_text(body: str) -> str:
    """On a Chinese page, an image whose description is English says so (lang="en")."""
    def mark(m):
        tag = m.group(0)
        alt = re.search(r'\salt="([^"]*)"', tag)
        if " lang=" in tag or not alt or not re.search(r"[A-Za-z]", alt.group(1)) \
                or _CJK_RUN.search(alt.group(1)):
            return tag
        return tag[:4] + ' lang="en"' + tag[4:]
    return re.sub(r"<img\b[^>]*>", mark, body)


def _description(doctree, limit: int = 155) -> str:
    """The page's first paragraph as plain text, cut at a word (or character) near `limit`."""
    from docutils import nodes

    for para in doctree.findall(nodes.paragraph) if doctree is not None else ():
        text = " ".join(para.astext().split())
        if len(text) >= 40:
            break
    else:
        return ""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    cut = cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut
    return cut.rstrip(",;:，；：、") + "…"


def page_semantics(app, pagename, templatename, context, doctree):
    """Language of parts, ARIA roles of the bibliography, a description, a title said once."""
    from html import escape

    body = context.get("body")
    if body:
        # docutils marks each bibliography entry role="doc-biblioentry" inside a
        # role="list": a role axe rejects on a <div> (and deprecated), which then leaves the
        # list with children it may not hold.  They are list items of that list.
        body = body.replace('role="doc-biblioentry"', 'role="listitem"')
        # a figure with its display size (stored at twice its resolution) keeps its room
        # while it loads: width and height attributes give the browser its proportions
        body = re.sub(r'<img (?![^>]*\swidth=)([^>]*?style="width: (\d+)px; height: (\d+)px;")',
                      r'<img width="\2" height="\3" \1', body)
        # a table column without a heading: an empty cell, not an empty header (axe)
        body = re.sub(r'<th class="head">(?:<p></p>)?</th>', '<td class="head"></td>', body)
        body = mark_english_alt_text(body) if _chinese(app) else mark_chinese_runs(body)
        context["body"] = body
    description = _description(doctree) or (context.get("title") or "") + " · " + \
        (context.get("docstitle") or "")
    context["metatags"] = (context.get("metatags", "") + '\n<meta name="description" '
                           f'content="{escape(description, quote=True)}" />')


def title_once(app, exception):
    """The home page's title is the book's title, and the theme writes "title — book title":
    "X — X" becomes "X" (the template sets the suffix itself, so the page is fixed once
    written)."""
    if exception or app.builder.format != "html":
        return
    path = Path(app.builder.get_outfilename(app.config.root_doc))
    if path.exists():
        page = path.read_text(encoding="utf-8")
        page = re.sub(r"<title>(.+?) &#8212; \1</title>", r"<title>\1</title>", page, count=1)
        path.write_text(page, encoding="utf-8")


WIDGET_FONTS = Path("notebooks") / "@jupyter-widgets" / "html-manager" / "dist"


def widget_fonts_in_both_folders(app, exception):
    """Copy the icon fonts of html-manager's folder into the folder above it (item 7)."""
    if exception or app.builder.format != "html":
        return
    import shutil

    fonts = Path(app.outdir) / WIDGET_FONTS
    for font in sorted(fonts.glob("*.woff2")):
        shutil.copyfile(font, fonts.parent.parent / font.name)


def _year_or_how_published():
    """Make the author-year `year` template node fall back to `howpublished`, then "n.d."."""
    from pybtex.style.template import field, first_of, optional
    from sphinxcontrib.bibtex.style import template

    def year(children, data):
        assert not children
        return first_of[optional[field("year")], optional[field("howpublished")],
                        "n.d."].format_data(data)

    template.year.f = year  # the node object the author-year styles hold


BOOK = Path(__file__).resolve().parents[1]
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"\w")
# function words that would make a Chinese query ask for more than its terms (查询和键)
CHINESE_STOPWORDS = set("的 了 和 与 及 或 是 在 把 被 为 也 都 而 就 这 那 之 其 个 着"
                        .split())


def _search_languages():
    """Sphinx's English and Chinese search with the book's additions (see 5. above)."""
    import jieba
    from sphinx import search
    from sphinx.search.en import SearchEnglish
    from sphinx.search.zh import SearchChinese

    tools = (BOOK / "search_tools.js").read_text(encoding="utf-8")

    class BookEnglish(SearchEnglish):
        js_splitter_code = tools

    class BookChinese(SearchChinese):
        js_splitter_code = "var BOOK_SPLIT_HAN = true;\n" + tools
        stopwords = SearchChinese.stopwords | CHINESE_STOPWORDS

        def init(self, options):
            super().init(options)  # loads options["dict"] into jieba
            path = options.get("dict")
            self.book_terms = (Path(path).read_text(encoding="utf-8").split()
                               if path and Path(path).is_file() else [])

        def split(self, input):
            # without jieba's guessing of unknown words (HMM), which glued 与键, 个键, 和键
            words = list(jieba.cut_for_search(input, HMM=False))
            words += [t for t in self.book_terms if t in input]
            latin = [t.strip() for t in self.latin1_letters.findall(input)]
            self.latin_terms.extend(latin)
            return words + latin

        def word_filter(self, word):
            return (bool(_WORD.search(word)) and word not in self.stopwords
                    and (len(word) > 1 or bool(_HAN.match(word))))

    search.languages["en"] = BookEnglish
    search.languages["zh"] = BookChinese


def search_dictionary(app, config):
    """The Chinese edition's jieba dictionary, from the glossary (book/search_dict.py)."""
    if not (config.language or "en").startswith("zh"):
        return
    sys.path.insert(0, str(BOOK))
    try:
        import search_dict
    finally:
        sys.path.remove(str(BOOK))
    path = search_dict.write_dictionary(Path(app.doctreedir) / "search_dict.txt")
    config.html_search_options = {**(config.html_search_options or {}), "dict": str(path)}


def setup(app):
    _year_or_how_published()
    _search_languages()
    app.connect("config-inited", search_dictionary)
    # after every other html-page-context handler has added its per-page scripts
    app.connect("html-page-context", fix_page, priority=999)
    app.connect("html-page-context", link_other_edition)
    app.connect("html-page-context", page_semantics, priority=600)
    app.connect("config-inited", edition_address)
    app.connect("build-finished", title_once)
    app.connect("build-finished", widget_fonts_in_both_folders)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
