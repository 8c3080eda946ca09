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
    ("examples/txl/README.md", "txl_program", "The txl program: every option"),
    ("docs/results.md", "results", "Results"),
    ("docs/performance.md", "performance", "Performance"),
    ("docs/design.md", "design", "Design notes"),
    ("tests/README.md", "testing", "How txl is tested"),
    ("docs/contributing.md", "contributing", "House rules"),
]
# Programs rendered side by side like the headers.
PROGRAM_PAGES = [
    ("examples/shakespeare/main.cpp", "shakespeare", "Training on Tiny Shakespeare, step by step"),
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


def line_span(indent, line_html, attrs=""):
    """One line of code that wraps with a hanging indent: indented by `indent` columns, it
    starts there and continues 4 columns deeper (CSS: `pre .ln`)."""
    return '<span class="ln"%s style="--indent:%d">%s</span>' % (attrs, indent, line_html or " ")


def wrap_lines(code_html):
    """A code block's lines (already HTML), each a `line_span`."""
    lines = code_html.rstrip("\n").split("\n")
    return "".join(line_span(len(l) - len(l.lstrip(" ")), l.lstrip(" ")) for l in lines)


def render_markdown(text):
    text, found = protect_math(list_breaks(text))
    out = markdown.markdown(text, extensions=["tables", "fenced_code", "sane_lists", "attr_list", "toc"])
    out = re.sub(r"(<pre><code[^>]*>)(.*?)(</code></pre>)", lambda m: m.group(1) + wrap_lines(m.group(2)) + m.group(3),
                 out, flags=re.S)
    out = re.sub(r"<table>(.*?)</table>", r'<div class="table-box"><table>\1</table></div>', out, flags=re.S)
    return re.sub("\x00(\\d+)\x00", lambda m: html.escape(found[int(m.group(1))], quote=False), out)


def doc_tags(text):
    """`@tparam X what` and `@param x what`, wherever they stand, as list items "**X** what"."""
    if "@tparam" not in text and "@param" not in text:
        return text
    lead, *items = re.split(r"\s*@t?param\s+", text)
    out = [lead] if lead.strip() else []
    for item in items:
        name, _, rest = item.partition(" ")
        out.append("- **%s** %s" % (name, rest))
    return "\n".join(out)


def split_sections(source):
    """[(prose, code)]: each run of comment lines, then the code up to the next comment line;
    `code` is [(line number, line)], blank lines at either end dropped."""
    sections, prose, code = [], [], []
    for number, line in enumerate(source.splitlines(), 1):
        s = line.strip()
        if s.startswith("#pragma once") or s.startswith("/// @file"):
            continue
        if s.startswith("//"):
            if code and any(c.strip() for _, c in code):
                sections.append(("\n".join(prose), code))
                prose, code = [], []
            prose.append(doc_tags(re.sub(r"^///?\s?", "", s)))
        else:
            code.append((number, line))
    sections.append(("\n".join(prose), code))
    out = []
    for p, c in sections:
        while c and not c[0][1].strip():
            c = c[1:]
        while c and not c[-1][1].strip():
            c = c[:-1]
        if p.strip() or c:
            out.append((p, c))
    return out


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="source" content="{source}">
<title>{title} · txl</title>
<link rel="stylesheet" href="katex/katex.min.css">
<link rel="stylesheet" href="style.css">
<script defer src="katex/katex.min.js"></script>
<script defer src="katex/contrib/auto-render.js"></script>
<script defer src="render.js"></script>
</head><body>
<input type="checkbox" id="nav-open"><label for="nav-open" class="nav-button">Contents</label>
<nav>{nav}</nav>
<main class="{kind}">
<h1 class="page-title" id="top">{title}</h1>
{subtitle}{body}
{footer}
</main></body></html>
"""

# The math is typeset in the prose and in the code's comments. Then the page measures itself:
# every code block, formula, heading, table and the page as a whole, wider than its box, is
# listed in body[data-overflow] (tests/site/check_site.py reads it at several window widths).
RENDER_JS = """document.addEventListener("DOMContentLoaded", function () {
  var delimiters = [{left: "$$", right: "$$", display: true}, {left: "$", right: "$", display: false}];
  renderMathInElement(document.body, {
    delimiters: delimiters,
    ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code"],
    throwOnError: true
  });
  document.querySelectorAll(".code pre .c1, .code pre .cm").forEach(function (comment) {
    renderMathInElement(comment, {delimiters: delimiters.slice(1), ignoredTags: [], throwOnError: true});
  });
  document.body.setAttribute("data-math", "done");
  var wide = [];
  function check(el, what) {
    if (el.scrollWidth > el.clientWidth + 1)
      wide.push(what + " (" + el.scrollWidth + " > " + el.clientWidth + " px): " +
                el.textContent.replace(/\\s+/g, " ").trim().slice(0, 80));
  }
  document.querySelectorAll("pre").forEach(function (el) { check(el, "code"); });
  document.querySelectorAll(".katex-display").forEach(function (el) { check(el, "formula"); });
  document.querySelectorAll(".doc, main h1, main h2, main h3, .table-box").forEach(function (el) {
    check(el, el.tagName.toLowerCase());
  });
  check(document.documentElement, "page");
  document.body.setAttribute("data-overflow", JSON.stringify(wide));
});
"""

# Wide screens: the contents beside the page. Laptops (below 1600 px): the contents behind a
# button, and the page's full width for prose and code. Code wraps with a hanging indent.
STYLE = """body { margin: 0; font: 15px/1.55 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; }
nav { position: fixed; top: 0; left: 0; bottom: 0; width: 210px; overflow-y: auto; padding: 12px;
      background: #f6f6f4; border-right: 1px solid #ddd; font-size: 13px; z-index: 2; }
nav a { display: block; color: #333; text-decoration: none; padding: 1px 0; }
nav a.here { font-weight: bold; color: #b3261e; }
nav h3 { margin: 12px 0 4px; font-size: 12px; text-transform: uppercase; color: #777; }
#nav-open { display: none; }
.nav-button { display: none; }
main { margin-left: 236px; }
@media (max-width: 1599px) {
  nav { display: none; box-shadow: 2px 0 8px rgba(0,0,0,.2); }
  #nav-open:checked ~ nav { display: block; top: 36px; }
  .nav-button { display: block; position: fixed; top: 6px; right: 12px; z-index: 3; padding: 2px 10px;
                background: #f6f6f4; border: 1px solid #ccc; border-radius: 4px; cursor: pointer; font-size: 13px; }
  main { margin-left: 0; }
}
main.prose { max-width: 860px; padding: 8px 24px 48px; }
main.prose .table-box { overflow-x: auto; margin: 8px 0; }
h1.page-title { padding: 8px 24px 0; margin: 0 0 8px; font-size: 26px; }
main.prose h1.page-title { padding-left: 0; }
.doc h1 { font-size: 22px; line-height: 1.3; } .doc h2 { font-size: 18px; } .doc h3 { font-size: 16px; }
.section { display: flex; border-bottom: 1px solid #eee; }
.doc { flex: 0 0 40%; box-sizing: border-box; padding: 6px 20px 6px 24px; min-width: 0; overflow-wrap: break-word; }
.code { flex: 1; min-width: 0; background: #fafaf7; border-left: 1px solid #eee; padding: 6px 12px; }
.section.intro { flex-direction: column; }
.section.intro .doc { max-width: 900px; }
.section.intro .code { border-left: 0; }
.code pre { margin: 0; font: 12.5px/1.45 "DejaVu Sans Mono", Menlo, monospace; }
pre .ln { display: block; white-space: pre-wrap; overflow-wrap: anywhere;
          padding-left: calc((var(--indent) + 4) * 1ch); text-indent: -4ch; }
pre .ln:target { background: #fff3b0; }
.doc p { margin: 6px 0; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: 3px 8px; vertical-align: top; }
code { font-size: 90%; background: #f0f0ec; padding: 0 3px; }
.katex-display { overflow-x: auto; overflow-y: hidden; padding: 2px 0; }
p.symbols { margin: 0 24px 8px; font-size: 13px; color: #555; }
footer.next { margin: 24px; padding-top: 12px; border-top: 1px solid #ddd; }
main.prose footer.next { margin: 24px 0; }
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


ANCHOR = re.compile(r"\s*\{#([A-Za-z][\w-]*)\}")
DECLARES = re.compile(r"^(?:struct|class)\s+(\w+)\b(?!.*;\s*$)")


def declared_types(source):
    """The types a header declares at its top level (`struct X` or `class X` at column 0 of a
    namespace), each the anchor of its line on the page."""
    return [m.group(1) for m in map(DECLARES.match, source.splitlines()) if m]


def code_lines(code):
    """The code as lines that wrap with a hanging indent: a line indented by n columns starts at
    n and continues at n + 4. Each line is anchored by its number (`#L42`) and by `{#name}` at
    the end of its comment, which is dropped from the text; a type's declaration by its name."""
    highlighted = highlight("\n".join(line for _, line in code), CppLexer(), HtmlFormatter(nowrap=True))
    out = []
    for (number, line), h in zip(code, highlighted.split("\n")):
        ids = ["L%d" % number]
        m = ANCHOR.search(h)
        if m:
            ids.append(m.group(1))
            h = ANCHOR.sub("", h, count=1)
        d = DECLARES.match(line)
        if d:
            ids.append(d.group(1))
        indent = len(line) - len(line.lstrip(" "))
        h = re.sub(r'^<span class="w"> +</span>', "", h) if indent else h  # the indent is the span's
        anchors = "".join('<a id="%s"></a>' % i for i in ids[1:])
        out.append(line_span(indent, anchors + h, ' id="%s"' % ids[0]))
    return "<pre>%s</pre>" % "".join(out)


def is_preamble(code):
    """Code that is only includes, namespace openers and blank lines: nothing to read beside."""
    return all(re.match(r"^\s*(#include\b.*|namespace\s+[\w:]+\s*\{.*|)$", line) for _, line in code)


def side_by_side(source):
    rows = []
    for n, (prose, code) in enumerate(split_sections(source)):
        # The page's introduction, and long prose beside nothing but includes, take the full
        # width with their code below them.
        intro = n == 0 and prose.count("\n") >= 8 or code and is_preamble(code) and len(prose) > 200
        kind = "section intro" if intro else "section"
        rows.append('<div class="%s"><div class="doc">%s</div><div class="code">%s</div></div>'
                    % (kind, render_markdown(prose), code_lines(code) if code else ""))
    return "\n".join(rows)


def unique_ids(body):
    """Headings rendered section by section may share an id: the later ones get -2, -3, ..."""
    seen = {}

    def repl(m):
        i = m.group(1)
        seen[i] = seen.get(i, 0) + 1
        return 'id="%s"' % (i if seen[i] == 1 else "%s-%d" % (i, seen[i]))
    return re.sub(r'id="([^"]+)"', repl, body)


def link_mentions(body, here, symbols):
    """Every header file name and every type name a page mentions in its prose links to the page (and
    the line) that defines it; plain-text header names too. Code, math and links stay as they are."""
    def code_repl(m):
        text = html.unescape(m.group(1))
        key = re.sub(r"<.*", "", text)  # RelativeMultiHeadAttention<C> names the type
        target = symbols.get(key) or (symbols.get(os.path.basename(key)) if key.endswith((".hpp", ".md")) else None)
        if not target or target[0] == here and not target[1]:
            return m.group(0)
        return '<a href="%s.html%s">%s</a>' % (target[0], "#" + target[1] if target[1] else "", m.group(0))

    def text_repl(m):
        target = symbols.get(m.group(0).lstrip("./")) or symbols.get(os.path.basename(m.group(0)))
        if not target or target[0] == here:
            return m.group(0)
        return '<a href="%s.html">%s</a>' % (target[0], m.group(0))

    out = []
    # Walk the HTML: links and code elements are left whole; text between tags is searched.
    for piece in re.split(r"(<a\b.*?</a>|<code>.*?</code>|<[^>]+>)", body, flags=re.S):
        if piece.startswith("<code>"):
            out.append(re.sub(r"<code>(.*?)</code>", code_repl, piece, flags=re.S))
        elif piece.startswith("<"):
            out.append(piece)
        else:
            out.append(re.sub(r"(?<![\w$])(?:\.\./)?(?:[a-z_]+/)*[a-z_]+\.hpp\b", text_repl, piece))
    return "".join(out)


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
    symbols = {key: (page, "") for key, page in page_of_path.items() if key.endswith((".hpp", ".md"))}
    sources = {}
    for name, _, _, kind, src in pages:
        with open(os.path.join(ROOT, src), encoding="utf-8") as f:
            sources[name] = f.read()
        if src.endswith(".hpp"):
            rel = os.path.relpath(src, "include/txl")
            symbols.setdefault(rel, (name, ""))
            symbols.setdefault("txl/" + rel, (name, ""))
            for t in declared_types(sources[name]):
                symbols.setdefault(t, (name, t))
    os.makedirs(args.out, exist_ok=True)
    nav_items = [(n, t, g) for n, t, g, _, _ in pages]
    for i, (name, title, group, kind, src) in enumerate(pages):
        text = sources[name]
        if kind == "prose":
            body = render_markdown(re.sub(r"\A# .*\n", "", text))  # the page title replaces the first heading
        else:
            body = side_by_side(text)
        body = fix_links(link_mentions(unique_ids(body), name, symbols), page_of_path)
        subtitle = ('<p class="symbols">Symbols as in <a href="index.html#notation">the notation</a>; '
                    'source <code>%s</code></p>\n' % html.escape(src) if kind == "code" else "")
        nxt = pages[i + 1] if i + 1 < len(pages) else None
        footer = ('<footer class="next">Next in the reading order: <a href="%s.html">%s</a></footer>'
                  % (nxt[0], html.escape(nxt[1])) if nxt else "")
        with open(os.path.join(args.out, name + ".html"), "w", encoding="utf-8") as f:
            f.write(PAGE.format(title=html.escape(title), nav=nav_html(nav_items, name), kind=kind, body=body,
                                source=html.escape(src), footer=footer, subtitle=subtitle))
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
