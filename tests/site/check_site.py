#!/usr/bin/env python3
"""Open every page of the built site in headless Chromium and check what a reader would see.

    python3 tests/site/check_site.py --site build/site --chromium /usr/bin/chromium \
        --screenshot build/site-relative_attention.png

For every page: no console message (errors, warnings, KaTeX parse errors), the math renderer ran
to the end, no raw `$$`, `\\frac` or `\\sum` left in the rendered prose, every internal link
resolves (file and anchor). For the site: every header of include/txl/txl.hpp's reading order
has its page, and each block page shows its backward derivation. Saves a screenshot of the
attention page. Exit status 0 only if every check passed; each failure is printed.
"""
import argparse
import glob
import html
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Pages of blocks with a forward and a backward pass: each must derive its backward.
BLOCK_PAGES = ["linear", "layer_norm", "embedding", "feed_forward", "relative_attention", "xl_layer",
               "layer_stack", "generator", "loss", "model"]


def chromium_args(chromium, profile):
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000"]


def rendered_prose_text(dom):
    """The text a reader sees outside code: KaTeX's hidden MathML source, scripts and code removed."""
    dom = re.sub(r"<annotation\b.*?</annotation>", "", dom, flags=re.S)
    dom = re.sub(r"<(script|style|pre|code)\b.*?</\1>", "", dom, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", dom))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--site", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--screenshot", required=True)
    a = ap.parse_args()
    failures = []
    pages = sorted(glob.glob(os.path.join(a.site, "*.html")))
    if not pages:
        sys.exit("check_site: no pages in %s" % a.site)
    ids = {}
    for p in pages:
        with open(p, encoding="utf-8") as f:
            ids[os.path.basename(p)] = set(re.findall(r'\bid="([^"]+)"', f.read()))

    with tempfile.TemporaryDirectory() as profile:
        for p in pages:
            name = os.path.basename(p)
            with open(p, encoding="utf-8") as f:
                source = f.read()
            # Internal links: the file exists, and so does the anchor.
            for href in re.findall(r'href="([^"]+)"', source):
                if re.match(r"^(https?:|mailto:)", href):
                    continue
                target, _, anchor = href.partition("#")
                target = target or name
                if not os.path.exists(os.path.join(a.site, target)):
                    failures.append("%s: link to %s: no such file" % (name, href))
                elif anchor and target.endswith(".html") and anchor not in ids.get(target, set()):
                    failures.append("%s: link to %s: no such anchor" % (name, href))
            r = subprocess.run(chromium_args(a.chromium, profile) + ["--dump-dom", "file://" + os.path.abspath(p)],
                               capture_output=True, text=True, timeout=120)
            dom, log = r.stdout, r.stderr
            if r.returncode != 0 or "<body" not in dom:
                failures.append("%s: chromium exited %d without a page: %s" % (name, r.returncode, log[-500:]))
                continue
            for line in log.splitlines():
                if "CONSOLE" in line or "Uncaught" in line:
                    failures.append("%s: console: %s" % (name, line.strip()))
            if 'data-math="done"' not in dom:
                failures.append("%s: the math renderer did not finish (a KaTeX error?)" % name)
            text = rendered_prose_text(dom)
            for raw in ("$$", "\\frac", "\\sum"):
                if raw in text:
                    at = text.index(raw)
                    failures.append("%s: raw %s left in the rendered text: ...%s..." %
                                    (name, raw, " ".join(text[max(0, at - 60):at + 60].split())))
            stem = name[:-5]
            if stem in BLOCK_PAGES and not re.search(r"\bbackward\b", text, re.I):
                failures.append("%s: a block page without its backward derivation" % name)

        # Every header on the reading path has its page.
        with open(os.path.join(ROOT, "include/txl/txl.hpp")) as f:
            for h in re.findall(r'#include "([a-z_/]+)\.hpp"', f.read()):
                if not os.path.exists(os.path.join(a.site, os.path.basename(h) + ".html")):
                    failures.append("header %s.hpp has no page" % h)

        attention = os.path.join(a.site, "relative_attention.html")
        subprocess.run(chromium_args(a.chromium, profile) +
                       ["--screenshot=" + os.path.abspath(a.screenshot), "--window-size=1400,1800",
                        "--hide-scrollbars", "file://" + os.path.abspath(attention)],
                       capture_output=True, text=True, timeout=120)
        if not os.path.exists(a.screenshot) or os.path.getsize(a.screenshot) < 10000:
            failures.append("no screenshot of the attention page at %s" % a.screenshot)

    for f in failures:
        print("FAIL " + f)
    print("check_site: %d pages, %d failures; screenshot %s" % (len(pages), len(failures), a.screenshot))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
