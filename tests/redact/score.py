#!/usr/bin/env python3
"""Scores the redact stage and secretlint on the same files.

Usage: score.py planted TRUTH.jsonl ROOT CURATE.jsonl SECRETLINT.json
       score.py clean CURATE.jsonl SECRETLINT.json KINDS

planted: per kind, how many planted secrets each tool found. curate found a secret when its
value is gone from the file's redacted text and metadata.redacted counts at least as many
findings of the kind as were planted in the file; secretlint found it when one of its
messages starts or ends on a line of the secret. Prints a table and, last, a JSON line
{"curate": found, "secretlint": found, "planted": n, "missed": [...]}.

clean: files with at least one finding of the given kinds (comma-separated; "secretlint"
findings are all of them), one JSON line {"curate_files": n, "secretlint_files": m, ...}.
"""
import collections
import json
import os
import sys


def curate_docs(path):
    docs = {}
    for line in open(path, encoding="utf-8"):
        d = json.loads(line)
        docs[d["id"]] = d
    return docs


def secretlint_lines(path):
    """file -> list of (first line, last line) of its messages"""
    out = collections.defaultdict(list)
    for f in json.load(open(path)):
        for m in f["messages"]:
            out[os.path.realpath(f["filePath"])].append((m["loc"]["start"]["line"], m["loc"]["end"]["line"]))
    return out


def planted(truth_path, root, cur_path, sl_path):
    truth = [json.loads(l) for l in open(truth_path)]
    docs, sl = curate_docs(cur_path), secretlint_lines(sl_path)
    per_file = collections.Counter((t["file"], t["kind"]) for t in truth)
    stats = collections.defaultdict(lambda: [0, 0, 0])  # kind -> planted, curate, secretlint
    missed = []
    for t in truth:
        path = os.path.realpath(os.path.join(root, t["file"]))
        d = docs[path]
        red = d.get("metadata", {}).get("redacted", {})
        got_c = t["value"] not in d["text"] and red.get(t["kind"], 0) >= per_file[(t["file"], t["kind"])]
        got_s = any(a <= t["last"] and b >= t["first"] for a, b in sl.get(path, []))
        s = stats[t["kind"]]
        s[0] += 1
        s[1] += got_c
        s[2] += got_s
        if not got_c:
            missed.append(f'{t["file"]}:{t["first"]}: {t["kind"]}')
    print(f'{"kind":20} {"planted":>8} {"curate":>8} {"secretlint":>10}')
    for k in sorted(stats):
        print(f"{k:20} {stats[k][0]:8} {stats[k][1]:8} {stats[k][2]:10}")
    tot = [sum(s[i] for s in stats.values()) for i in range(3)]
    print(f'{"all":20} {tot[0]:8} {tot[1]:8} {tot[2]:10}')
    print(json.dumps({"planted": tot[0], "curate": tot[1], "secretlint": tot[2], "missed": missed,
                      "per_kind": {k: v for k, v in stats.items()}}))


def clean(cur_path, sl_path, kinds):
    kinds = set(kinds.split(","))
    docs, sl = curate_docs(cur_path), secretlint_lines(sl_path)
    cur = sorted(p for p, d in docs.items()
                 if kinds & set(d.get("metadata", {}).get("redacted", {})))
    by_kind = collections.Counter()
    for d in docs.values():
        for k, n in d.get("metadata", {}).get("redacted", {}).items():
            by_kind[k] += n
    print(json.dumps({"files": len(docs), "curate_files": len(cur), "secretlint_files": len(sl),
                      "curate_list": cur, "secretlint_list": sorted(sl), "findings": by_kind}))


if sys.argv[1] == "planted":
    planted(*sys.argv[2:6])
else:
    clean(*sys.argv[2:5])
