#!/usr/bin/env python3
"""fences.py < JSONL: the fenced code blocks of each crawl-web document, as
{"url": ..., "blocks": [...], "langs": [...]} per line (the inverse of the stage's fencing)."""
import json
import re
import sys

FENCE = re.compile(r"^(`{3,})([^`\n]*)\n(.*?)\n\1$", re.S | re.M)
for line in sys.stdin:
    d = json.loads(line)
    found = FENCE.findall(d["text"])
    print(json.dumps({"url": d["metadata"]["url"], "blocks": [b for _, _, b in found],
                      "langs": [l for _, l, _ in found]}))
