#!/usr/bin/env python3
"""Build the book's two editions, English and Chinese, and keep the translations in step.

    .venv/bin/python book/editions.py build [--out OUT] [jupyter-book options]
    .venv/bin/python book/editions.py refresh     # after an English edit
    .venv/bin/python book/editions.py status      # translated share, page by page
    .venv/bin/python book/editions.py check [PO ...]  # markup kept in every translation

One source, two editions.  The English edition is the book as written; the
Chinese one is the same notebooks and pages built with `language: zh_CN`.
Sphinx's gettext machinery swaps each translated paragraph, heading, list item
and admonition for its Chinese text from locale/zh_CN/LC_MESSAGES/<page>.po,
and leaves code cells and their outputs as they are: literal blocks are not
translatable messages.  A message whose English changed is marked fuzzy (or
is new and empty) after `refresh`, and Sphinx ignores fuzzy and empty
entries, so the Chinese page shows the current English sentence, never a stale
translation, until someone translates it again.

`build` writes the English edition to OUT/_build/html and the Chinese one to
OUT/_build/html/zh (OUT is the repository unless --out says otherwise).  `refresh` extracts the
current messages with Sphinx's gettext builder into _build/gettext/*.pot and
merges them into the .po files with sphinx-intl.  `status` prints, for every
page, the share of its messages that have a current translation.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
LANGUAGE = "zh_CN"
LOCALE = ROOT / "locale" / LANGUAGE / "LC_MESSAGES"
ZH_TITLE = "注意力是如何计算的"
EDITIONS = {"en": "", "zh": "zh/"}  # edition -> its folder under _build/html


def _jupyter_book() -> str:
    return str(Path(sys.executable).with_name("jupyter-book"))


def _run(cmd: list[str], root: Path = ROOT, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=root, text=True, **kw)


BANNER = ("Finished generating HTML", "Your book's HTML pages are here",
          "You can look at your book by opening", "Or paste this line directly",
          "The HTML pages are in", "Output Path:")


def _without_banner(lines):
    """jupyter-book's output less its closing banner, its "Output Path" and Sphinx's "The
    HTML pages are in": they name the folder of one build, not where book/editions.py puts
    the editions (the Chinese one is moved to _build/html/zh)."""
    held = None  # the lines of a "=====" block, held until it closes
    for line in lines:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", line).strip()  # less the colour codes
        if held is None and plain.startswith(BANNER):
            continue
        if set(plain) == {"="} and len(plain) > 20:
            if held is None:
                held = [line]
                continue
            held.append(line)
            if not any(b in h for h in held for b in BANNER):
                yield from held
            held = None
            continue
        if held is not None:
            held.append(line)
        else:
            yield line
    yield from held or []


def _build_edition(cmd: list[str], root: Path, capture: bool) -> subprocess.CompletedProcess:
    """Run one jupyter-book build; show its output as it comes (less the banner) or keep it."""
    if capture:
        return _run(cmd, root, capture_output=True)
    proc = subprocess.Popen(cmd, cwd=root, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, bufsize=1)
    for line in _without_banner(proc.stdout):
        print(line, end="", flush=True)
    return subprocess.CompletedProcess(cmd, proc.wait(), "", "")


def zh_config(folder: Path, root: Path = ROOT) -> Path:
    """Write the Chinese edition's config: _config.yml with its title and language."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    config["title"] = ZH_TITLE
    # the Colab button opens the Chinese notebook (zh/notebooks/, see book/zh_notebooks.py)
    config.setdefault("repository", {})["path_to_book"] = "zh"
    sphinx = config.setdefault("sphinx", {})
    sphinx.setdefault("config", {})["language"] = LANGUAGE
    # jupyter-book finds local extensions relative to the config file, which is elsewhere
    sphinx["local_extensions"] = {
        name: str(root / path) for name, path in (sphinx.get("local_extensions") or {}).items()}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "_config.zh.yml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False),
                    encoding="utf-8")
    return path


def zh_toc(folder: Path, root: Path = ROOT) -> Path:
    """Write the Chinese edition's _toc.yml: the part captions in their translation.

    The captions are messages of the root page's catalog, but the sidebar takes them from
    the table of contents itself, which gettext does not translate.
    """
    from babel.messages.pofile import read_po

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    catalog = root / "locale" / LANGUAGE / "LC_MESSAGES" / f"{toc['root']}.po"
    if catalog.exists():
        with catalog.open("rb") as f:
            chinese = {m.id: m.string for m in read_po(f) if m.id and m.string and not m.fuzzy}
        for part in toc.get("parts", []):
            part["caption"] = chinese.get(part.get("caption"), part.get("caption"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "_toc.zh.yml"
    path.write_text(yaml.safe_dump(toc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def build(out: Path = ROOT, extra: list[str] = (), capture: bool = False, root: Path = ROOT):
    """Build both editions of the book in ``root`` under ``out``.

    Returns (a return code, 0 when both builds succeeded; the two builds' output when
    ``capture``, else "").
    """
    out = Path(out).resolve()
    html = out / "_build" / "html"
    common = ["--all", "-W", "--keep-going", *extra]
    en = _build_edition([_jupyter_book(), "build", str(root), "--path-output", str(out),
                         *common], root, capture)
    zh_out = out / "_build" / "zh"
    zh = _build_edition([_jupyter_book(), "build", str(root), "--path-output", str(zh_out),
                         "--config", str(zh_config(zh_out, root)),
                         "--toc", str(zh_toc(zh_out, root)), *common], root, capture)
    if zh.returncode == 0 and html.exists():
        # moved, not copied: one Chinese edition, at _build/html/zh (its links lead there)
        shutil.rmtree(html / "zh", ignore_errors=True)
        shutil.move(zh_out / "_build" / "html", html / "zh")
        # the download button hands out the Chinese notebook too
        for nb in sorted((root / "zh" / "notebooks").glob("*.ipynb")):
            source = html / "zh" / "_sources" / "notebooks" / nb.name
            if source.exists():
                shutil.copyfile(nb, source)
    log = "".join((p.stdout or "") + (p.stderr or "") for p in (en, zh)) if capture else ""
    return en.returncode or zh.returncode, log


def extract(out: Path, root: Path = ROOT, capture: bool = False) -> Path:
    """The English messages of every page, as .pot files under ``out``/_build/gettext."""
    pot = Path(out).resolve() / "_build" / "gettext"
    shutil.rmtree(pot, ignore_errors=True)
    kw = {"capture_output": True} if capture else {}
    proc = _run([_jupyter_book(), "build", str(root), "--all", "--path-output", str(out),
                 "--builder", "custom", "--custom-builder", "gettext"], root, **kw)
    if proc.returncode:
        raise RuntimeError(f"the gettext build failed:\n{(proc.stdout or '')[-3000:]}"
                           f"{(proc.stderr or '')[-3000:]}")
    return pot


def refresh(root: Path = ROOT, capture: bool = False) -> int:
    """Extract the English messages and merge them into locale/zh_CN/LC_MESSAGES/*.po.

    sphinx-intl keeps every translation whose English is unchanged, marks a message whose
    English changed a little as fuzzy (keeping the old translation as a suggestion), adds
    new messages untranslated and drops messages that are gone.
    """
    pot = extract(root, root, capture)
    intl = str(Path(sys.executable).with_name("sphinx-intl"))
    kw = {"capture_output": True} if capture else {}
    return _run([intl, "update", "-p", str(pot), "-d", str(root / "locale"),
                 "-l", LANGUAGE, "-w", "76"], root, **kw).returncode


def translated_share(pot_dir: Path, po_dir: Path = LOCALE) -> dict[str, tuple[int, int]]:
    """Page -> (translated messages, messages), counting only the .pot's current messages.

    A message counts as translated when the .po holds it with a non-empty, non-fuzzy
    translation: what Sphinx will use.  Messages the .po lacks count as untranslated.
    """
    from babel.messages.pofile import read_po

    shares = {}
    for pot in sorted(Path(pot_dir).rglob("*.pot")):
        page = pot.relative_to(pot_dir).with_suffix("").as_posix()
        with pot.open("rb") as f:
            wanted = [m.id for m in read_po(f) if m.id]
        po_path = Path(po_dir) / f"{page}.po"
        done = {}
        if po_path.exists():
            with po_path.open("rb") as f:
                done = {m.id: m for m in read_po(f) if m.id}
        ok = sum(1 for i in wanted if i in done and done[i].string and not done[i].fuzzy)
        shares[page] = (ok, len(wanted))
    return shares


ROLE = re.compile(r"\{([a-z:-]+)\}`([^`]*)`")
CODE = re.compile(r"(?<!`)`([^`]+)`(?!`)")
MATH = re.compile(r"(?<![\\$])\$([^$]+)\$")
LINK = re.compile(r"\]\(([^)\s]+)\)")
TARGET_ROLES = {"term", "doc", "ref", "numref"}  # their text may be translated, not the target


def _role_key(role: str, text: str) -> tuple[str, str]:
    if role in TARGET_ROLES:
        m = re.search(r"<([^<>]+)>\s*$", text)
        return role, (m.group(1) if m else text).strip()
    return role, text


def markup_problems(msgid: str, msgstr: str) -> list[str]:
    """What a translation lost or changed of its English message's markup.

    Roles keep their target ({term}`注意力权重 <attention weights>` is fine) and their
    number (Sphinx warns when a translation has more or fewer references), citations,
    equation references, inline code, inline math and link addresses stay as they are,
    and a display equation is copied unchanged.
    """
    if not msgstr:
        return []
    if msgid.lstrip().startswith("\\") or msgid.startswith("\n"):
        return [] if msgstr == msgid else ["a display equation: copy it unchanged"]
    problems = []

    def tokens(text):
        roles = [_role_key(*m.groups()) for m in ROLE.finditer(text)]
        rest = ROLE.sub(" ", text)
        return {"roles": roles, "inline code": CODE.findall(rest),
                "inline math": MATH.findall(CODE.sub(" ", rest)),
                "links": LINK.findall(rest)}

    want, got = tokens(msgid), tokens(msgstr)
    for kind in want:
        a, b = Counter(want[kind]), Counter(got[kind])
        if a != b:
            problems.append(f"{kind}: missing {sorted((a - b).elements())}, "
                            f"extra {sorted((b - a).elements())}")
    return problems


def check(paths: list[Path]) -> int:
    """Print every translation whose markup differs from its English; return how many."""
    from babel.messages.pofile import read_po

    bad = 0
    for path in paths:
        with Path(path).open("rb") as f:
            catalog = read_po(f)
        for m in catalog:
            if not m.id or not m.string or m.fuzzy:
                continue
            for problem in markup_problems(m.id, m.string):
                bad += 1
                print(f"{path}: {m.id[:60]!r}: {problem}")
    return bad


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"build", "refresh", "status", "check"}:
        print(__doc__)
        return 2
    if argv[0] == "build":
        rest = argv[1:]
        out = ROOT
        if rest[:1] == ["--out"]:
            out, rest = Path(rest[1]), rest[2:]
        return build(out, rest)[0]
    if argv[0] == "check":
        return 1 if check([Path(p) for p in argv[1:]] or sorted(LOCALE.rglob("*.po"))) else 0
    if argv[0] == "refresh":
        return refresh()
    code = refresh()
    from zh_notebooks import write as write_zh_notebooks  # book/zh_notebooks.py, beside this
    for path in write_zh_notebooks(ROOT):
        print(f"wrote {path.relative_to(ROOT)} (the Chinese notebook)")
    print("translated messages, page by page (the tests ask for 95 % at least):")
    for page, (ok, n) in translated_share(ROOT / "_build" / "gettext").items():
        print(f"{page:<36} {ok:4d}/{n:<4d} {ok / max(n, 1):6.1%}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
