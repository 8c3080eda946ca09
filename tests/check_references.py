#!/usr/bin/env python3
"""Every file, header and section that the README, a doc page or a comment points at exists.

    python3 tests/check_references.py

Checked, in README.md, docs/, include/, examples/, tests/, bench/ and .ci/:
* repository paths (`include/...`, `docs/...`, `examples/...`, `tests/...`, `bench/...`,
  `cmake/...`, `.ci/...`) exist;
* header names in backticks (`relative_attention.hpp`) name a header of the repository;
* Markdown links to files resolve, and so do their `#section` anchors (GitHub's heading slugs);
* nothing points outside the repository (the only outside file a command may name is the Tiny
  Shakespeare text under ../shared/data, which the tests and CI read; and .ci/run alone reads the
  CI machine's xtensor 0.27 release archives, from the thirdparty folder beside that data).
Exit status 0 only if every reference resolves; each broken one is printed with file and line.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
PATH_RE = re.compile(r"(?<![\w./-])((?:include|docs|examples|tests|bench|cmake|\.ci)/[\w./-]*\w)")
HEADER_RE = re.compile(r"`(?:txl/)?([\w/]+\.hpp)`")
LINK_RE = re.compile(r"\]\(([^)\s]+)\)")
# The design notes live outside the repository; nothing in it may cite them (spelled in two
# pieces so that this file does not cite them either).
OUTSIDE_DOC = "DESIGN" + ".md"


def tracked_files():
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True)
    files = out.stdout.split() if out.returncode == 0 else []
    if not files:  # not a git checkout: walk the tree
        for d, _, fs in os.walk(ROOT):
            if "/build" in d or "/.git" in d:
                continue
            files += [os.path.relpath(os.path.join(d, f), ROOT) for f in fs]
    return files


def slug(heading):
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def anchors_of(path):
    with open(path, encoding="utf-8") as f:
        return {slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", f.read(), re.M)}


def main():
    files = tracked_files()
    headers = {os.path.basename(f) for f in files if f.endswith(".hpp")}
    headers |= {f[len("include/txl/"):] for f in files if f.startswith("include/txl/")}
    scanned = [f for f in files
               if (f == "README.md" or f.split("/")[0] in ("docs", "include", "examples", "tests", "bench", ".ci"))
               and f.endswith((".md", ".hpp", ".cpp", ".py", ".sh", ".txt", "run"))
               and "/reference/fixtures" not in f]
    broken = []
    for rel in scanned:
        with open(os.path.join(ROOT, rel), encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
        for n, line in enumerate(lines, 1):
            where = "%s:%d" % (rel, n)
            if OUTSIDE_DOC in line and rel != "tests/check_references.py":
                broken.append("%s: points at %s, which is not in the repository" % (where, OUTSIDE_DOC))
            for m in re.finditer(r"\.\./shared/([\w./-]+)", line):
                ci_input = rel == ".ci/run" and m.group(1).startswith("thirdparty")
                if not m.group(1).startswith("data") and not ci_input and rel != "tests/check_references.py":
                    broken.append("%s: points outside the repository: ../shared/%s" % (where, m.group(1)))
            for m in PATH_RE.finditer(line):
                p = m.group(1)
                after = line[m.end():m.end() + 1]
                if any(c in p + after for c in "<>*{}") or "/build" in p:
                    continue
                if not os.path.exists(os.path.join(ROOT, p)):
                    broken.append("%s: %s does not exist" % (where, p))
            for m in HEADER_RE.finditer(line):
                h = m.group(1)
                if h not in headers and os.path.basename(h) not in headers and not h.startswith(("xtensor", "xsimd", "doctest", "CLI")):
                    broken.append("%s: header %s is not in the repository" % (where, h))
            if rel.endswith(".md"):
                for m in LINK_RE.finditer(line):
                    href = m.group(1)
                    if re.match(r"^(https?:|mailto:)", href) or href.endswith(".html") or ".html#" in href:
                        continue  # site pages and the web
                    path, _, anchor = href.partition("#")
                    target = os.path.normpath(os.path.join(ROOT, os.path.dirname(rel), path)) if path else os.path.join(ROOT, rel)
                    if not os.path.exists(target):
                        broken.append("%s: link %s: no such file" % (where, href))
                    elif anchor and target.endswith(".md") and anchor not in anchors_of(target):
                        broken.append("%s: link %s: no such section" % (where, href))
    for b in broken:
        print("BROKEN " + b)
    print("check_references: %d files read, %d broken references" % (len(scanned), len(broken)))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
