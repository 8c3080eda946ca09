#!/usr/bin/env python3
"""Open every page of the built site in headless Chromium and check what a reader would see.

    python3 tests/site/check_site.py --site build/site --chromium /usr/bin/chromium \
        --shots build/site-shots

For every page, at window widths of 1280 and 1440 px (a laptop's): nothing wider than its box
(no code block, formula, heading, table or the page itself; the page measures itself after
the math is typeset and lists what is too wide in body[data-overflow]); no console message
(errors, warnings, KaTeX parse errors); the math renderer ran to the end. Once per page: no
raw TeX (`$...$`, `$$`, `\frac`, `\sum`) left in the prose or in the code's comments, no
`@tparam`/`@param` in the prose, no `^` exponent in plain text, numbered lists that keep the
numbers their source gives them, every internal link resolves (file and anchor). For the site:
every header of include/txl/txl.hpp's reading order has its page, each block page shows its
backward derivation, and every page ends with the next one in the reading order. Screenshots
of the block pages at 1440 px go to --shots. Exit status 0 only if every check passed; each
failure is printed.
"""
import argparse
import collections
import glob
import json
import os
import re
import sys
import time

from browser import Browser, BrowserError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Pages of blocks with a forward and a backward pass: each must derive its backward.
BLOCK_PAGES = ["linear", "layer_norm", "embedding", "feed_forward", "attention_core", "relative_attention",
               "sinusoidal_attention", "xl_layer", "post_norm_layer", "layer_stack", "generator", "loss", "model",
               "trainer"]
WIDTHS = [1280, 1440]

# What the reader sees, taken in the page: the prose's text (code, math and KaTeX's hidden
# source removed), the code comments' text with their rendered math removed, and each
# numbered list's numbers.
READ_PAGE = r"""(function () {
  function visible(el, drop) {
    var c = el.cloneNode(true);
    c.querySelectorAll(drop).forEach(function (x) { x.remove(); });
    return c.textContent;
  }
  var prose = Array.from(document.querySelectorAll("main .doc, main.prose")).map(function (el) {
    return visible(el, ".katex, code, pre, script, .code");
  }).join("\n");
  var comments = Array.from(document.querySelectorAll(".code pre .c1, .code pre .cm")).map(function (el) {
    return visible(el, ".katex");
  }).join("\n");
  var lists = Array.from(document.querySelectorAll("main ol")).map(function (ol) {
    return [ol.start, ol.querySelectorAll(":scope > li").length];
  });
  return JSON.stringify({prose: prose, comments: comments, lists: lists,
                         next: !!document.querySelector("footer.next a")});
})()"""


def source_of(page_html):
    m = re.search(r'<meta name="source" content="([^"]+)"', page_html)
    return m.group(1) if m else None


def source_list_numbers(path):
    """The numbers of the ordered-list items the page's source writes (in its comments for a
    header, outside fenced code for Markdown)."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".md"):
        text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
        lines = text.splitlines()
    else:
        lines = [re.sub(r"^\s*///?\s?", "", l) for l in text.splitlines() if l.strip().startswith("//")]
    return sorted(int(m.group(1)) for m in (re.match(r"^\s{0,3}(\d+)\.\s+\S", l) for l in lines) if m)


def excerpt(text, at):
    return " ".join(text[max(0, at - 60):at + 60].split())


def read_checks(name, seen, source):
    """The checks on what a reader reads: raw TeX, doc tags, plain-text exponents, lists."""
    failures = []
    for where, text in (("prose", seen["prose"]), ("code comment", seen["comments"])):
        for pattern, what in ((r"\$\$|\$[^$\s][^$\n]*\$", "raw TeX"), (r"\\frac|\\sum", "raw TeX"),
                              (r"\b\w+\^[\w{(]", "a ^ exponent in plain text")):
            m = re.search(pattern, text)
            if m:
                failures.append("%s: %s in the %s: ...%s..." % (name, what, where, excerpt(text, m.start())))
    m = re.search(r"@t?param\b", seen["prose"])
    if m:
        failures.append("%s: a doc tag in the prose: ...%s..." % (name, excerpt(seen["prose"], m.start())))
    if source:
        shown = sorted(n for start, count in seen["lists"] for n in range(start, start + count))
        written = source_list_numbers(source)
        if shown != written:
            extra = collections.Counter(shown) - collections.Counter(written)
            failures.append("%s: numbered lists show %s where the source numbers %s" %
                            (name, dict(extra) or shown, written))
    return failures


def link_checks(site, name, source_html, ids):
    failures = []
    for href in re.findall(r'href="([^"]+)"', source_html):
        if re.match(r"^(https?:|mailto:)", href):
            continue
        target, _, anchor = href.partition("#")
        target = target or name
        if not os.path.exists(os.path.join(site, target)):
            failures.append("%s: link to %s: no such file" % (name, href))
        elif anchor and target.endswith(".html") and anchor not in ids.get(target, set()):
            failures.append("%s: link to %s: no such anchor" % (name, href))
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--site", required=True)
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    ap.add_argument("--shots", required=True, help="directory for the block pages' screenshots at 1440 px")
    a = ap.parse_args()
    started = time.monotonic()
    failures = []
    pages = sorted(glob.glob(os.path.join(a.site, "*.html")))
    if not pages:
        sys.exit("check_site: no pages in %s" % a.site)
    html_of, ids = {}, {}
    for p in pages:
        with open(p, encoding="utf-8") as f:
            html_of[os.path.basename(p)] = f.read()
        ids[os.path.basename(p)] = set(re.findall(r'\bid="([^"]+)"', html_of[os.path.basename(p)]))
    os.makedirs(a.shots, exist_ok=True)
    for old in glob.glob(os.path.join(a.shots, "*.png")):
        os.remove(old)

    without_next = []  # only the last page in the reading order may be one
    with Browser(a.chromium) as browser:
        for p in pages:
            name = os.path.basename(p)
            failures += link_checks(a.site, name, html_of[name], ids)
            for width in WIDTHS:
                try:
                    browser.open("file://" + os.path.abspath(p), width)
                except BrowserError as e:
                    failures.append("%s at %d px: %s" % (name, width, e))
                    continue
                if not browser.wait_for("document.body.getAttribute('data-overflow') !== null"):
                    failures.append("%s at %d px: the math renderer did not finish (a KaTeX error?)" % (name, width))
                    continue
                for line in browser.console():
                    failures.append("%s at %d px: %s" % (name, width, line))
                for wide in json.loads(browser.evaluate("document.body.getAttribute('data-overflow')")):
                    failures.append("%s at %d px: wider than its box: %s" % (name, width, wide))
            # The last width is 1440 px: what is read there, and the screenshot.
            seen = json.loads(browser.evaluate(READ_PAGE))
            failures += read_checks(name, seen, source_of(html_of[name]))
            if not seen["next"]:
                without_next.append(name)
            stem = name[:-5]
            if stem in BLOCK_PAGES:
                if not re.search(r"\bbackward\b", seen["prose"], re.I):
                    failures.append("%s: a block page without its backward derivation" % name)
                shot = os.path.join(a.shots, stem + "-1440.png")
                browser.screenshot(shot)
                if os.path.getsize(shot) < 10000:
                    failures.append("%s: the screenshot %s is empty" % (name, shot))

    if len(without_next) != 1:
        failures.append("pages without a link to the next in the reading order: %s" % without_next)
    # Every header on the reading path has its page.
    with open(os.path.join(ROOT, "include/txl/txl.hpp")) as f:
        for h in re.findall(r'#include "([a-z_/]+)\.hpp"', f.read()):
            if not os.path.exists(os.path.join(a.site, os.path.basename(h) + ".html")):
                failures.append("header %s.hpp has no page" % h)

    for f in failures:
        print("FAIL " + f)
    print("check_site: %d pages at %s px, %d failures, %.0f s; screenshots in %s" %
          (len(pages), " and ".join(map(str, WIDTHS)), len(failures), time.monotonic() - started, a.shots))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
