#!/usr/bin/env python3
"""Lighthouse on every page of both editions of a built book; writes scores.json beside this.

    (mkdir -p /tmp/lh && cd /tmp/lh && npm i -E lighthouse@12.2.3)
    CHROME_PATH=/usr/bin/chromium .venv/bin/python results/lighthouse/run.py \
        --lighthouse /tmp/lh/node_modules/.bin/lighthouse --site _build/html

The site is served from 127.0.0.1.  Every page of _toc.yml is audited in each edition with
Lighthouse's default (mobile) settings, for accessibility, best practices and SEO (the course
asks 100 of each); the summary keeps the scores and any failing audit, not the reports.
`--performance` adds the performance category and the layout shift (CLS), at both the mobile
and the desktop settings; with no compression or cache headers on a local server, those
numbers are pessimistic and only comparable with each other.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CATEGORIES = ["accessibility", "best-practices", "seo"]
EDITIONS = {"en": "", "zh": "zh/"}


def pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return [toc["root"]] + [c["file"] for part in toc.get("parts", []) for c in part["chapters"]]


def serve(folder: Path) -> str:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


def audit(lighthouse: str, url: str, report: Path, categories: list[str],
          extra: tuple[str, ...] = ()) -> dict:
    subprocess.run([lighthouse, url, "--quiet", "--output=json", f"--output-path={report}",
                    f"--only-categories={','.join(categories)}", *extra,
                    "--chrome-flags=--headless=new --no-sandbox --disable-gpu"],
                   check=True, env={**os.environ,
                                    "CHROME_PATH": os.environ.get("CHROME_PATH",
                                                                  "/usr/bin/chromium")})
    data = json.loads(report.read_text(encoding="utf-8"))
    scores = {c: round(100 * data["categories"][c]["score"]) for c in categories}
    if "performance" in categories:
        scores["cls"] = round(data["audits"]["cumulative-layout-shift"]["numericValue"], 3)
    scores["failing"] = sorted(
        key for key, a in data["audits"].items()
        if a.get("score") is not None and a["score"] < 1 and a.get("scoreDisplayMode") == "binary"
        and any(key in [r["id"] for r in data["categories"][c]["auditRefs"]]
                for c in CATEGORIES if c in categories))
    return scores


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lighthouse", required=True, help="the lighthouse 12.2.3 command")
    parser.add_argument("--site", default=str(ROOT / "_build" / "html"), type=Path)
    parser.add_argument("--out", default=Path(__file__).with_name("scores.json"), type=Path)
    parser.add_argument("--performance", action="store_true",
                        help="also performance and CLS, mobile and desktop")
    parser.add_argument("--pages", nargs="*", help="only these pages (default: all)")
    args = parser.parse_args(argv)
    base = serve(args.site)
    results = {}
    runs = [("mobile", CATEGORIES, ())]
    if args.performance:
        runs = [("mobile", ["performance", *CATEGORIES], ()),
                ("desktop", ["performance"], ("--preset=desktop",))]
    with tempfile.TemporaryDirectory() as tmp:
        for edition, folder in EDITIONS.items():
            for page in args.pages or pages():
                for form, categories, extra in runs:
                    scores = audit(args.lighthouse, f"{base}/{folder}{page}.html",
                                   Path(tmp) / "report.json", categories, extra)
                    key = f"{edition} {page}" + (f" ({form})" if args.performance else "")
                    results[key] = scores
                    print(f"{key:<50} " + " ".join(f"{k} {v}" for k, v in scores.items()),
                          flush=True)
    summary = {"lighthouse": "12.2.3", "settings": "default (mobile), local http.server",
               "pages": results}
    args.out.write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n",
                        encoding="utf-8")
    below = [p for p, s in results.items() if min(s.get(c, 100) for c in CATEGORIES) < 100]
    print(f"wrote {args.out}; pages below 100 in accessibility, best practices or SEO: "
          f"{below or 'none'}")
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
