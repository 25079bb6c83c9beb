"""The Chinese edition: built from the same sources, translated, linked, and kept in step.

book/editions.py builds the English edition into html/ and the Chinese one (language
zh_CN, translations from locale/zh_CN/LC_MESSAGES/*.po) into html/zh/.  These tests check
the translation catalogs against the current English text, the two built editions against
each other, and, on a small book made here, that an English edit never leaves a stale
translation on the Chinese page.
"""

import json
import re
import textwrap

import pytest
from babel.messages.pofile import read_po, write_po
from conftest import ROOT, editions, load_script, page_soup, toc_files

PAGES = toc_files()
CHAPTERS = [p for p in PAGES if p.startswith("notebooks/")]
MIN_SHARE = 0.95
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def shares(tmp_path_factory):
    """Page -> (translated, messages) for the English text as it is now."""
    pot = editions.extract(tmp_path_factory.mktemp("gettext"), capture=True)
    return editions.translated_share(pot)


def test_every_page_has_a_catalog(shares):
    assert sorted(shares) == sorted(PAGES)
    for page in PAGES:
        assert (editions.LOCALE / f"{page}.po").exists(), f"no translation catalog for {page}"


@pytest.mark.parametrize("page", PAGES)
def test_page_is_at_least_95_percent_translated(page, shares):
    ok, n = shares[page]
    print(f"{page}: {ok}/{n} messages translated ({ok / n:.1%})")
    assert n > 0
    assert ok / n >= MIN_SHARE, (
        f"{page}: only {ok} of {n} messages ({ok / n:.1%}) have a current translation; "
        f"run `python3.11 dev.py translations` and translate the empty and fuzzy entries")


def test_translations_keep_roles_code_and_math():
    assert editions.check(sorted(editions.LOCALE.rglob("*.po"))) == 0


@pytest.mark.parametrize("case", [
    ("A {term}`query` and $Q$", "一个 {term}`查询 <query>` 和 $Q$", []),
    ("A {term}`query` and $Q$", "一个查询和 $Q$", ["roles"]),
    ("Use `torch.bmm`.", "用 `bmm`。", ["inline code"]),
    ("$a + b$ {cite:p}`k`", "$a+b$ {cite:p}`k`", ["inline math"]),
    ("See [the docs](https://x.org).", "见[文档](https://y.org)。", ["links"]),
    ("\n\\begin{aligned} x \\end{aligned}\n", "\n\\begin{aligned} y \\end{aligned}\n",
     ["a display equation"]),
])
def test_the_markup_check_finds_what_a_translation_lost(case):
    msgid, msgstr, kinds = case
    problems = editions.markup_problems(msgid, msgstr)
    assert [p.split(":")[0] for p in problems] == kinds, problems


def _html(build, edition, page):
    proc, html = build
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    path = html / editions.EDITIONS[edition] / f"{page}.html"
    assert path.exists(), f"the {edition} edition has no {page}.html"
    return path, page_soup(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES)
def test_each_edition_has_the_page_in_its_language(page, build):
    _, en = _html(build, "en", page)
    _, zh = _html(build, "zh", page)
    assert en.html["lang"] == "en" and zh.html["lang"] == "zh-CN"
    # the prose is Chinese: every paragraph of the English page with more than a few words
    # is, on the Chinese page, a paragraph with Chinese in it (code, outputs and the
    # bibliography's entries are no paragraphs of the prose)
    def prose(soup):
        return [p.get_text() for p in soup.select("article p")
                if not p.find_parent(class_=["cell_output", "citation"])
                and "edition-switch" not in (p.get("class") or [])]
    en_prose, zh_prose = prose(en), prose(zh)
    assert len(en_prose) == len(zh_prose), f"{page}: the editions have different paragraphs"
    english = [e for e, z in zip(en_prose, zh_prose)
               if len(e.split()) > 6 and not CJK.search(z)]
    assert len(english) <= 0.05 * len(en_prose), f"{page}: paragraphs left in English: {english[:3]}"


@pytest.mark.parametrize("page", PAGES)
def test_language_links_lead_to_the_same_page_and_back(page, build):
    for edition, other in (("en", "zh"), ("zh", "en")):
        path, soup = _html(build, edition, page)
        links = soup.select("p.edition-switch a")
        assert len(links) == 1, f"{edition} {page}: expected one edition link"
        target = (path.parent / links[0]["href"]).resolve()
        assert target == _html(build, other, page)[0].resolve(), target
        back = page_soup(target.read_text(encoding="utf-8"))
        assert (target.parent / back.select_one("p.edition-switch a")["href"]).resolve() \
            == path.resolve()


@pytest.mark.parametrize("page", CHAPTERS)
def test_code_and_outputs_are_the_same_cells_in_both_editions(page, build):
    cells = {}
    for edition in ("en", "zh"):
        _, soup = _html(build, edition, page)
        for translated in soup.select(".attnlib-slider label, .attnlib-slider + script"):
            translated.decompose()  # a slider's label and frame alt texts are translated
        cells[edition] = [c.get_text() for c in soup.select("div.cell_input, div.cell_output")]
    assert cells["en"] and cells["en"] == cells["zh"]


def test_the_chinese_search_index_holds_chinese_words(build):
    _, html = build
    index = (html / "zh" / "searchindex.js").read_text(encoding="utf-8")
    terms = json.loads(index[index.index("(") + 1:index.rindex(")")])["terms"]
    for word in ("注意力", "掩码", "查询"):  # split into words by jieba, Sphinx's zh splitter
        assert word in terms, f"{word} is not in the Chinese search index"


BOOK = {
    "_config.yml": """\
        title: A small book
        only_build_toc_files: true
        execute:
          execute_notebooks: "off"
        sphinx:
          config:
            locale_dirs: [locale/]
            gettext_compact: false
            gettext_location: false
        """,
    "_toc.yml": "format: jb-book\nroot: page\n",
    "page.md": "# Cats and dogs\n\nThe cat sat on the mat.\n\nThe dog ran in the park.\n",
}


def test_an_english_edit_shows_in_english_never_as_a_stale_translation(tmp_path):
    for name, text in BOOK.items():
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    assert editions.refresh(tmp_path, capture=True) == 0
    po = tmp_path / "locale" / "zh_CN" / "LC_MESSAGES" / "page.po"
    with po.open("rb") as f:
        catalog = read_po(f)
    chinese = {"Cats and dogs": "猫和狗", "The cat sat on the mat.": "猫坐在垫子上。",
               "The dog ran in the park.": "狗在公园里跑。"}
    for m in catalog:
        if m.id:
            m.string = chinese[m.id]
    with po.open("wb") as f:
        write_po(f, catalog)

    def zh_page():
        code, log = editions.build(tmp_path / "out", capture=True, root=tmp_path)
        assert code == 0, log[-3000:]
        return (tmp_path / "out" / "_build" / "html" / "zh" / "page.html").read_text("utf-8")

    page = zh_page()
    assert all(t in page for t in chinese.values())

    # the English sentence changes; the catalog is refreshed as dev.py translations does
    (tmp_path / "page.md").write_text(BOOK["page.md"].replace("ran in", "ran across"))
    assert editions.refresh(tmp_path, capture=True) == 0
    with po.open("rb") as f:
        entry = read_po(f).get("The dog ran across the park.")
    assert entry is not None and (entry.fuzzy or not entry.string)
    page = zh_page()
    assert "The dog ran across the park." in page  # the current English ...
    assert "狗在公园里跑。" not in page  # ... not the translation of the old sentence
    assert "猫坐在垫子上。" in page  # unchanged sentences stay translated
    share = editions.translated_share(tmp_path / "_build" / "gettext", po.parent)
    assert share == {"page": (2, 3)}


def _glossary_terms():
    """English term -> its Chinese term, from book/glossary.md (each definition starts with it)."""
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    lines = text.split("```{glossary}")[1].split("```")[0].splitlines()
    terms = {}
    for line, after in zip(lines, lines[1:]):
        if line.strip() and not line.startswith((" ", ":")) and after.startswith("  "):
            terms[line.strip()] = re.match(r"\s+([^\s.(（]+)", after).group(1)
    return terms


def test_translations_use_the_glossarys_chinese_terms():
    """A message that uses a glossary term in English uses its Chinese term in translation."""
    terms = _glossary_terms()
    assert terms["attention weights"] == "注意力权重" and len(terms) >= 30
    terms["score"] = "分"  # 分数 as a noun, 打分 or 得分 where English scores as a verb
    off = []
    for po in sorted(editions.LOCALE.rglob("*.po")):
        with po.open("rb") as f:
            catalog = read_po(f)
        for m in catalog:
            if not m.id or not m.string or m.fuzzy or m.id.startswith("\n") \
                    or m.id.lstrip().startswith("\\"):
                continue  # a display equation is copied unchanged (zh_interface: its labels)
            prose = re.sub(r"\{[a-z:-]+\}`[^`]*`|`[^`]*`|\$[^$]*\$", " ", m.id).lower()
            for english, chinese in terms.items():
                if re.search(rf"\b{re.escape(english)}s?\b", prose) and chinese not in m.string:
                    off.append(f"{po.stem}: {english} -> {chinese}: {m.string[:60]}")
    assert off == [], "\n".join(off)


# --- the Chinese terms, typography and everything around the prose --------------------------

MARKUP = re.compile(r"\{[a-z:-]+\}`[^`]*`|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$", re.S)
ROLE_TEXT = re.compile(r"\{[a-z:-]+\}`([^`<]*)<[^`]*>`")  # {term}`查询 <query>`: 查询
NUMBER = r"(?:\d[\d.,]*|[一二两三四五六七八九十百千万]+)"


def _chinese_messages():
    """(catalog, msgstr with code and math replaced by X, role targets dropped) of every
    current translation in every catalog; display equations left out."""
    for po in sorted(editions.LOCALE.rglob("*.po")):
        with po.open("rb") as f:
            catalog = read_po(f)
        for m in catalog:
            if m.id and m.string and not m.fuzzy and not m.id.startswith(("\n", "\\")):
                text = ROLE_TEXT.sub(lambda r: r.group(1), m.string)
                yield po.relative_to(editions.LOCALE).as_posix(), MARKUP.sub("X", text)


def chinese_terms():
    """CONTRIBUTING.md's "Chinese terms" table: [(terms, retired variants)], one a concept."""
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    table = text.split("## Chinese terms", 1)[1].split("\n\n|", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in ("|" + table).splitlines()[2:]:
        cells = line.strip("|").split("|")
        rows.append((re.findall(r"`([^`]+)`", cells[1]), re.findall(r"`([^`]+)`", cells[2])))
    return rows


def test_the_term_table_is_read():
    rows = chinese_terms()
    assert len(rows) >= 15
    assert (["批量"], ["批次"]) in rows and (["热力图"], ["热图"]) in rows
    assert all(terms and retired for terms, retired in rows)


def test_catalogs_use_the_chinese_terms():
    """No retired variant of CONTRIBUTING's term table in any catalog (N: a number)."""
    rows = chinese_terms()
    every_term = [t for terms, _ in rows for t in terms]
    off = []
    for po, text in _chinese_messages():
        for terms, retired in rows:
            for variant in retired:
                # the variant inside a term (单元 in 单元格 or 单元测试) is no variant
                masked = text
                for term in every_term:
                    if variant in term:
                        masked = masked.replace(term, "□")
                pattern = r"\s*".join(r"\d[\d.,]*" if part == "N" else re.escape(part)
                                       for part in variant.split())
                for hit in re.finditer(pattern, masked):
                    off.append(f"{po}: {variant} -> {' / '.join(terms)}: "
                               f"...{masked[max(0, hit.start() - 20):hit.end() + 10]}...")
    assert off == [], "\n".join(off)


CJK_CHAR = "[\u4e00-\u9fff]"
TYPOGRAPHY = {
    "half-width punctuation next to Chinese (use ，；：？！)":
        rf"{CJK_CHAR}[,;:?!]|[,;:?!]{CJK_CHAR}",
    "half-width brackets around words in Chinese text (use （）)":
        rf"{CJK_CHAR}\s?\((?=[^()]*[A-Za-z\u4e00-\u9fff][^()]*\))"
        rf"|\((?=[^()]*[A-Za-z\u4e00-\u9fff])[^()]*\)\s?{CJK_CHAR}",
    "a space before % (write 60%)": r"\d\s+%",
    "a reduction as N times smaller (write a fraction: 缩小到 1/4)":
        rf"(?:小|(?<!至)少|弱|慢)(?:了|约|得)*\s*(?:{NUMBER}|X)\s*多?倍",
    "N 次 FLOPs (the unit twice)": r"次\s*FLOPs",
}


def test_catalogs_follow_chinese_typography():
    off = []
    for po, text in _chinese_messages():
        for rule, pattern in TYPOGRAPHY.items():
            for hit in re.finditer(pattern, text):
                off.append(f"{po}: {rule}: ...{text[max(0, hit.start() - 20):hit.end() + 10]}...")
    assert off == [], "\n".join(off)


@pytest.mark.parametrize("case", [
    ("要小一百多倍", 1), ("缩小约 X 倍", 1), ("弱 16 倍", 1), ("只剩 1/16", 0), ("至少 2 倍", 0),
    ("约 60 % 的短日期", 1), ("约 60% 的短日期", 0), ("坐标注意力 (CA)。", 1), ("元素 (1, 2) 加", 0),
    ("（a）参数量", 0), ("规则:", 1),
])
def test_the_typography_check_finds_what_it_should(case):
    text, hits = case
    assert sum(len(re.findall(p, text)) for p in TYPOGRAPHY.values()) == hits, text


zh_interface = load_script("book/_ext/zh_interface.py")


def test_interface_patterns_carry_their_text_over():
    tr = zh_interface.Interface({"Bar chart at τ = {}: weights {}": "τ = {} 时的柱状图：权重为 {}",
                                 "The article's rule 2": "原文的规则 2"})
    assert tr("Bar chart at τ = 0.5: weights 0.1, 0.9") == "τ = 0.5 时的柱状图：权重为 0.1, 0.9"
    assert tr("The article\u2019s rule 2") == "原文的规则 2"  # smart quotes or not
    assert tr("Something else") == "Something else" and tr.get("Something else") is None


def test_interface_catalog_holds_no_stale_entry():
    """Each exercise title, alt text and equation label of interface.po is still in a chapter
    (an English edit adds the new entry; this drops the old one)."""
    sources = []
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text(encoding="utf-8"))["cells"]:
            sources.append("".join(cell["source"]))
            sources.append(str(cell.get("metadata", {}).get("mystnb", {}).get("image", {})
                               .get("alt", "")))
    text = "\n".join(sources)
    with (editions.LOCALE / "interface.po").open("rb") as f:
        catalog = read_po(f)
    stale = []
    for m in catalog:
        kind = " ".join(m.auto_comments)
        if kind.startswith(("Exercise titles", "Alt text")) and m.id not in text:
            stale.append(m.id)
        if kind.startswith("Labels inside") and "\\text{" + m.id + "}" not in text:
            stale.append(m.id)
    assert stale == [], f"entries no chapter uses any more: {stale}"


def test_glossary_terms_sort_by_pinyin():
    """The Chinese glossary is sorted by the GB2312 code of its terms, which is pinyin order
    for the 3,755 common characters (lead byte 0xB0-0xD7): every term must use only those."""
    with (editions.LOCALE / "book" / "glossary.po").open("rb") as f:
        heads = [m.string for m in read_po(f) if m.id and m.string and "\n" not in m.id
                 and not re.search(r"[.:]\s", m.id) and len(m.id) < 40]
    assert len(heads) >= 30
    rare = {c: h for h in heads for c in h
            if CJK.match(c) and not 0xB0 <= c.encode("gb2312", "replace")[0] <= 0xD7}
    assert rare == {}, f"characters outside GB2312's pinyin-ordered level 1: {rare}"
    assert sorted(["自注意力", "编码器", "查询", "KV 缓存", "批量矩阵乘法"],
                  key=zh_interface.pinyin_key) == ["KV 缓存", "编码器", "查询", "批量矩阵乘法",
                                                   "自注意力"]


def test_the_chinese_glossary_is_in_pinyin_order_without_repeating_its_terms(build):
    _, soup = _html(build, "zh", "book/glossary")
    terms = [dt.get_text().strip() for dt in soup.select("dl.glossary dt")]
    assert len(terms) >= 30 and terms == sorted(terms, key=zh_interface.pinyin_key)
    for dt in soup.select("dl.glossary dt"):
        term = dt.get_text().strip().split("（")[0]
        definition = dt.find_next_sibling("dd").get_text().strip()
        assert not definition.startswith(term), f"the definition repeats {term}"
        assert "(" not in dt.get_text(), f"half-width brackets in {term}"


def test_the_chinese_punctuation_is_in_the_bundled_font_for_the_chinese_edition(build):
    cjk = load_script("book/fonts/subset_cjk.py")
    assert set(cjk.ZH_PUNCTUATION) <= cjk.font_characters()
    css = (ROOT / "book/static/zh.css").read_text(encoding="utf-8")
    face = re.search(r"@font-face\s*{(.*?)}", css, re.S).group(1)
    declared = " ".join(re.search(r"unicode-range:\s*([^;]*);", face).group(1).split())
    assert declared == cjk.zh_unicode_range_css()
    assert '"Attn CJK"' in face and "NotoSansCJKsc-subset.woff" in face
    for edition in ("en", "zh"):
        _, soup = _html(build, edition, "notebooks/01_what_is_attention")
        linked = any(link.get("href", "").split("?")[0].endswith("zh.css")
                     for link in soup.select("link[rel=stylesheet]"))
        assert linked == (edition == "zh"), f"{edition}: zh.css linked: {linked}"


# English a Chinese page may show around the prose: code names, names of things, units, and
# the words the book keeps in English (see CONTRIBUTING's Chinese edition)
KEPT_IN_ENGLISH = set("""
    softmax sigmoid logits dropout PyTorch torch SDPA GRU GRUs FLOPs IQR Transformer
    Transformers KV LN pre post bmm einsum Colab GitHub PDF pdf Ctrl CC BY MIT MiB CPU GPU
    Nadaraya Watson sin max MHA FFN ReLU BN Var Attention LayerNorm seq2seq Bahdanau md ipynb
    Triton FlashAttention FLOP TFLOP float16 bfloat16 float32 Mistral Llama Gemma DeepSeek Qwen
    CoAtNet ViT ALiBi YaRN NTK
    """.split())
WORD = re.compile(r"[A-Za-z][\w\\]*")  # an identifier with _ (mask_mod) is a code name
QUOTED = re.compile(r"“[^”]*”|‘[^’]*’|'[^']*'|\"[^\"]*\"")
CHROME = ("header, footer, .bd-sidebar-primary, .bd-header-article, .prev-next-area, "
          ".search-button-field, #pst-search-dialog")


def _english_words(text):
    return [w for w in WORD.findall(QUOTED.sub(" ", text)) if w not in KEPT_IN_ENGLISH
            and "_" not in w and not (len(w) == 1 or w.isupper() and len(w) <= 3)]


def _around_the_prose(soup):
    """(kind, text) of what a reader sees around the prose of a page."""
    for english in soup.select(".edition-switch"):
        english.decompose()  # the link to the English edition says so in English, on purpose
    for cite in soup.select("a[href*='references.html#'], a[href^='#id']"):
        del cite["title"]  # a citation's tooltip is its bibliography entry, English by nature
    for title in soup.select("p.admonition-title"):
        yield "exercise title", title.get_text(" ")
    for slider in soup.select(".attnlib-slider"):
        yield "slider label", slider.label.get_text(" ")
        script = slider.find_next_sibling("script")
        for alt in json.loads(re.search(r"alts = (\[.*?\]);", script.string).group(1)):
            yield "slider frame alt", alt
    for math in soup.select("div.math"):
        for label in zh_interface.TEXT.findall(math.get_text()):
            yield "equation label", label
    for tag in soup.find_all(True):
        for name in ("title", "aria-label", "placeholder", "alt", "data-bs-title"):
            if tag.get(name) and not tag.find_parent("pre"):
                yield f"{tag.name}[{name}]", tag[name]
    for part in soup.select(CHROME):
        for code in part.select("code, pre"):
            code.decompose()
        yield "page chrome", part.get_text(" ")


def test_chinese_pages_show_no_english_around_the_prose(build):
    """Exercise titles, alt texts, slider labels, equation labels and the theme's strings of
    every Chinese page are Chinese (book/_ext/zh_interface.py, locale/.../interface.po)."""
    _, html = build
    pages = sorted(p for p in (html / "zh").rglob("*.html")
                   if not {"_static", "_sources", "_images"} & set(p.parts))
    assert len(pages) >= len(PAGES)
    english = {}
    for page in pages:
        soup = page_soup(page.read_text(encoding="utf-8"))
        for kind, text in _around_the_prose(soup):
            words = _english_words(text)
            if words:
                english.setdefault(f"{kind}: {' '.join(text.split())[:90]}", page.name)
    assert english == {}, "English on Chinese pages (add it to interface.po):\n" + "\n".join(
        f"{page}: {what}" for what, page in sorted(english.items()))
