#!/usr/bin/env python3
"""Build txl's side-by-side site from the headers' own comments (offline).

    python3 docs/site/build_site.py --out build/site

Every header on the reading path becomes a page in the manner of nn.labml.ai: each comment block
(`///` or `//` lines) is prose on the left, rendered as Markdown, with its LaTeX typeset by KaTeX
in the browser; the code that follows it, up to the next comment, is on the right, highlighted by
Pygments. The reading order is the one in include/txl/txl.hpp (its #include lines, in order): the
site has no list of its own. The Markdown pages (docs/, the example's and the tests' READMEs)
are rendered in one column with the same math.

Why a generator of our own: the literate-programming tools packaged for Debian (pycco, docco via
npm) split on one comment marker and pass `$...$` through Markdown, which eats the underscores
and backslashes of the math; txl's headers use `///` for prose and `//` beside statements, and
their math must reach KaTeX untouched. This script protects the math before Markdown runs, and
is one short file that tests/site/check_site.py checks in a real browser.

Needs python3-markdown, python3-pygments and libjs-katex (Debian); no network.
"""
import argparse
import html
import os
import re
import shutil
import sys

import markdown
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import CppLexer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KATEX = "/usr/share/javascript/katex"

# Markdown pages: (source in the repository, page name, title). The overview comes first.
DOC_PAGES = [
    ("docs/overview.md", "index", "Transformer-XL, the idea"),
    ("docs/from_pytorch.md", "from_pytorch", "From labml/PyTorch to txl"),
    ("docs/slots.md", "slots_contract", "The slots' contracts"),
    ("docs/adding_a_block.md", "adding_a_block", "Adding a block"),
    ("docs/using.md", "using", "Using txl in your project"),
    ("examples/shakespeare/README.md", "shakespeare_options", "The example program's options"),
    ("docs/results.md", "results", "Results"),
    ("docs/performance.md", "performance", "Performance"),
    ("docs/design.md", "design", "Design notes"),
    ("tests/README.md", "testing", "How txl is tested"),
    ("docs/contributing.md", "contributing", "House rules"),
]
# Programs rendered side by side like the headers.
PROGRAM_PAGES = [
    ("examples/shakespeare/main.cpp", "shakespeare", "The Tiny Shakespeare program"),
    ("examples/custom_blocks/blocks.hpp", "custom_blocks", "Blocks of one's own"),
]


def reading_order():
    """The headers txl.hpp includes, in order: the one reading order."""
    with open(os.path.join(ROOT, "include/txl/txl.hpp")) as f:
        return [m.group(1) for m in re.finditer(r'#include "([a-z_/]+\.hpp)"', f.read())]


def protect_math(text):
    """Swap $$...$$ and $...$ for placeholders Markdown cannot touch; return text and the math."""
    found = []

    def keep(m):
        found.append(m.group(0))
        return "\x00%d\x00" % (len(found) - 1)

    text = re.sub(r"\$\$.+?\$\$", keep, text, flags=re.S)
    # inline math may run over a line break (a comment wraps), never over a blank line
    text = re.sub(r"(?<![\\$])\$(?!\s)(?:[^$\n]|\n(?!\n))+?(?<!\s)\$", keep, text)
    return text, found


def list_breaks(text):
    """A blank line before a list that follows a paragraph line (Python-Markdown needs it;
    the headers' comments do not leave one)."""
    out, prev = [], ""
    for line in text.split("\n"):
        item = re.match(r"^\s*([*-]|\d+\.)\s", line)
        prev_item = re.match(r"^\s*([*-]|\d+\.)\s", prev) or prev.startswith("  ")
        if item and prev.strip() and not prev_item:
            out.append("")
        out.append(line)
        prev = line
    return "\n".join(out)


def render_markdown(text):
    text, found = protect_math(list_breaks(text))
    out = markdown.markdown(text, extensions=["tables", "fenced_code"])
    return re.sub("\x00(\\d+)\x00", lambda m: html.escape(found[int(m.group(1))], quote=False), out)


def split_sections(source):
    """[(prose, code)]: each run of comment lines, then the code up to the next comment line."""
    sections, prose, code = [], [], []
    for line in source.splitlines():
        s = line.strip()
        if s.startswith("#pragma once") or s.startswith("/// @file"):
            continue
        if s.startswith("//"):
            if code and any(c.strip() for c in code):
                sections.append(("\n".join(prose), "\n".join(code)))
                prose, code = [], []
            text = re.sub(r"^///?\s?", "", s)
            text = re.sub(r"^@tparam\s+(\S+)", r"**\1**", text)
            prose.append(text)
        else:
            code.append(line)
    sections.append(("\n".join(prose), "\n".join(code)))
    return [(p, c.strip("\n")) for p, c in sections if p.strip() or c.strip()]


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title} · txl</title>
<link rel="stylesheet" href="katex/katex.min.css">
<link rel="stylesheet" href="style.css">
<script defer src="katex/katex.min.js"></script>
<script defer src="katex/contrib/auto-render.js"></script>
<script defer src="render.js"></script>
</head><body>
<nav>{nav}</nav>
<main class="{kind}">
<h1 class="page-title">{title}</h1>
{body}
</main></body></html>
"""

RENDER_JS = """document.addEventListener("DOMContentLoaded", function () {
  renderMathInElement(document.body, {
    delimiters: [{left: "$$", right: "$$", display: true}, {left: "$", right: "$", display: false}],
    ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code"],
    throwOnError: true
  });
  document.body.setAttribute("data-math", "done");
});
"""

STYLE = """body { margin: 0; font: 15px/1.55 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; }
nav { position: fixed; top: 0; left: 0; bottom: 0; width: 210px; overflow-y: auto; padding: 12px;
      background: #f6f6f4; border-right: 1px solid #ddd; font-size: 13px; }
nav a { display: block; color: #333; text-decoration: none; padding: 1px 0; }
nav a.here { font-weight: bold; color: #b3261e; }
nav h3 { margin: 12px 0 4px; font-size: 12px; text-transform: uppercase; color: #777; }
main { margin-left: 236px; }
main.prose { max-width: 860px; padding: 8px 24px 48px; }
h1.page-title { padding: 8px 24px 0; margin: 0 0 8px; }
main.prose h1.page-title { padding-left: 0; }
.section { display: flex; border-bottom: 1px solid #eee; }
.doc { flex: 0 0 42%; box-sizing: border-box; padding: 6px 20px 6px 24px; overflow-x: auto; }
.code { flex: 1; min-width: 0; background: #fafaf7; border-left: 1px solid #eee; padding: 6px 12px; }
.code pre { margin: 0; font: 12.5px/1.45 "DejaVu Sans Mono", Menlo, monospace; overflow-x: auto; }
.doc p { margin: 6px 0; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 3px 8px; vertical-align: top; }
code { font-size: 90%; background: #f0f0ec; padding: 0 3px; }
.katex-display { overflow-x: auto; overflow-y: hidden; padding: 2px 0; }
"""


def nav_html(pages, here):
    groups, out = {}, []
    for name, title, group in pages:
        groups.setdefault(group, []).append((name, title))
    for group, items in groups.items():
        out.append("<h3>%s</h3>" % html.escape(group))
        for name, title in items:
            cls = ' class="here"' if name == here else ""
            out.append('<a href="%s.html"%s>%s</a>' % (name, cls, html.escape(title)))
    return "\n".join(out)


def link_key(path):
    """How a link names a page: its file name; `detail/` and the file name for the machinery; the folder and
    `README.md` for a README (there are several)."""
    base = os.path.basename(path)
    if "detail/" in path:
        return "detail/" + base
    if base == "README.md":
        return os.path.basename(os.path.dirname(path)) + "/" + base
    return base


def fix_links(body, page_of_path):
    """Links to repository files with a page go to the page; to files without one, become code."""
    def repl(m):
        href, text = m.group(1), m.group(2)
        if re.match(r"^(https?:|mailto:|#)", href):
            return m.group(0)
        path, _, anchor = href.partition("#")
        key = link_key(path.rstrip("/"))
        if key.endswith(".html") and key[:-5] in page_of_path.values():
            return m.group(0)  # already a page of the site
        if key in page_of_path:
            return '<a href="%s.html%s">%s</a>' % (page_of_path[key], "#" + anchor if anchor else "", text)
        return "<code>%s</code>" % text if not text.startswith("<code>") else text
    return re.sub(r'<a href="([^"]*)">(.*?)</a>', repl, body, flags=re.S)


def side_by_side(source):
    lexer, fmt = CppLexer(), HtmlFormatter(nowrap=True)
    rows = []
    for prose, code in split_sections(source):
        code_html = "<pre>%s</pre>" % highlight(code, lexer, fmt) if code.strip() else ""
        rows.append('<div class="section"><div class="doc">%s</div><div class="code">%s</div></div>'
                    % (render_markdown(prose), code_html))
    return "\n".join(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output directory")
    args = ap.parse_args()
    if not os.path.isdir(KATEX):
        sys.exit("error: %s not found: install Debian's libjs-katex" % KATEX)

    headers = reading_order()
    # (page name, title, group, kind, source path)
    pages = []
    for src, name, title in DOC_PAGES[:1]:
        pages.append((name, title, "Start", "prose", src))
    for h in headers:
        pages.append((os.path.splitext(os.path.basename(h))[0], h, "Headers, in reading order", "code",
                      "include/txl/" + h))
    for src, name, title in PROGRAM_PAGES:
        pages.append((name, title, "Programs", "code", src))
    for h in sorted(os.listdir(os.path.join(ROOT, "include/txl/detail"))):
        pages.append(("detail_" + os.path.splitext(h)[0], "detail/" + h, "Machinery (off the reading path)", "code",
                      "include/txl/detail/" + h))
    for src, name, title in DOC_PAGES[1:]:
        pages.append((name, title, "Guides", "prose", src))

    page_of_path = {link_key(src): name for name, _, _, _, src in pages if "/detail/" not in src}
    page_of_path.update({"detail/" + os.path.basename(src): name for name, _, _, _, src in pages if "/detail/" in src})
    os.makedirs(args.out, exist_ok=True)
    nav_items = [(n, t, g) for n, t, g, _, _ in pages]
    for name, title, group, kind, src in pages:
        with open(os.path.join(ROOT, src), encoding="utf-8") as f:
            text = f.read()
        if kind == "prose":
            body = render_markdown(re.sub(r"\A# .*\n", "", text))  # the page title replaces the first heading
        else:
            body = side_by_side(text)
        body = fix_links(body, page_of_path)
        with open(os.path.join(args.out, name + ".html"), "w", encoding="utf-8") as f:
            f.write(PAGE.format(title=html.escape(title), nav=nav_html(nav_items, name), kind=kind, body=body))
    with open(os.path.join(args.out, "style.css"), "w") as f:
        f.write(STYLE + HtmlFormatter().get_style_defs(".code pre"))
    with open(os.path.join(args.out, "render.js"), "w") as f:
        f.write(RENDER_JS)
    kdir = os.path.join(args.out, "katex")
    shutil.rmtree(kdir, ignore_errors=True)
    os.makedirs(os.path.join(kdir, "contrib"))
    for f in ("katex.min.js", "katex.min.css", "contrib/auto-render.js"):
        shutil.copy(os.path.join(KATEX, f), os.path.join(kdir, f))
    shutil.copytree(os.path.realpath(os.path.join(KATEX, "fonts")), os.path.join(kdir, "fonts"))
    print("site: %d pages in %s (open %s)" % (len(pages), args.out, os.path.join(args.out, "index.html")))


if __name__ == "__main__":
    main()
