"""The licence line in every page's footer, in the page's language (a local Sphinx extension).

The book's text and figures are under CC BY 4.0, its code under the MIT licence
(LICENSE-CONTENT.md and LICENSE at the repository's root).  The footer links both; the link to
the MIT text is made from the repository's address, which lives in _config.yml alone
(``repository.url``, handed to the theme as ``repository_url``).
"""

from __future__ import annotations

CC_BY = "https://creativecommons.org/licenses/by/4.0/"

FOOTER = {
    "en": ('Text and figures: <a href="{cc}" rel="license">CC BY 4.0</a>. '
           'Code: <a href="{mit}">MIT licence</a>.'),
    "zh": ('正文和插图采用 <a href="{cc}" rel="license">CC BY 4.0</a> 许可；'
           '代码采用 <a href="{mit}">MIT 许可</a>。'),
}


def footer(language: str | None, repository_url: str) -> str:
    """The footer's licence line (HTML) for a language code such as ``zh_CN`` or ``en``."""
    text = FOOTER["zh" if (language or "en").startswith("zh") else "en"]
    mit = f"{repository_url.rstrip('/')}/blob/main/LICENSE"
    return f'<p class="licence">{text.format(cc=CC_BY, mit=mit)}</p>'


def add_footer(app, config):
    options = config.html_theme_options
    options["extra_footer"] = footer(config.language, options.get("repository_url", ""))


def setup(app):
    app.connect("config-inited", add_footer)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
