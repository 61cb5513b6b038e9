#!/usr/bin/env python3
"""pre_ref.py HTML_FILE...: the reference for code blocks, independent of libxml2: Python's
html.parser collects the text of every outermost <pre> (entities decoded, <br> as a newline),
tidied as crawl-web documents say (CRLF/CR to LF, NBSP to space, blank lines at either end and
trailing whitespace removed; empty blocks dropped). Prints one JSON object per file:
{"file": ..., "blocks": [...]}."""
import html.parser
import json
import re
import sys


class Pre(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.skip = 0
        self.cur = []
        self.blocks = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1
        if tag == "pre":
            self.depth += 1
        elif tag == "br" and self.depth:
            self.cur.append("\n")

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self.skip:
            self.skip -= 1
        if tag == "pre" and self.depth:
            self.depth -= 1
            if not self.depth:
                self.blocks.append("".join(self.cur))
                self.cur = []

    def handle_data(self, data):
        if self.depth and not self.skip:
            self.cur.append(data)


def tidy(s):
    s = s.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    s = s.rstrip()
    s = re.sub(r"\A(?:[ \t\f\v]*\n)+", "", s)
    return s


for path in sys.argv[1:]:
    p = Pre()
    p.feed(open(path, encoding="utf-8", errors="replace").read())
    p.close()
    print(json.dumps({"file": path, "blocks": [b for b in map(tidy, p.blocks) if b]}))
