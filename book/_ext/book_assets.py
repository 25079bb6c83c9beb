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
   text, to the same page in the other edition, and a `<link rel="alternate" hreflang>`.
"""

from __future__ import annotations


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


def link_other_edition(app, pagename, templatename, context, doctree):
    """Put a link to the same page in the other edition at the top of the page's text."""
    if "body" not in context:
        return
    up = "../" * pagename.count("/")
    if (app.config.language or "en").startswith("zh"):
        href, lang, text, title = (f"{up}../{pagename}.html", "en", "English",
                                   "Read this page in English")
    else:
        href, lang, text, title = (f"{up}{EDITION_FOLDER}{pagename}.html", "zh-CN", "中文版",
                                   "阅读本页的中文版")
    context["body"] = (f'<p class="edition-switch"><a href="{href}" hreflang="{lang}" '
                       f'lang="{lang}" title="{title}">{text}</a></p>\n' + context["body"])
    context["metatags"] = (context.get("metatags", "")
                           + f'\n<link rel="alternate" hreflang="{lang}" href="{href}" />')


def _year_or_how_published():
    """Make the author-year `year` template node fall back to `howpublished`, then "n.d."."""
    from pybtex.style.template import field, first_of, optional
    from sphinxcontrib.bibtex.style import template

    def year(children, data):
        assert not children
        return first_of[optional[field("year")], optional[field("howpublished")],
                        "n.d."].format_data(data)

    template.year.f = year  # the node object the author-year styles hold


def setup(app):
    _year_or_how_published()
    # after every other html-page-context handler has added its per-page scripts
    app.connect("html-page-context", fix_page, priority=999)
    app.connect("html-page-context", link_other_edition)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
