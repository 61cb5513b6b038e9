#!/usr/bin/env python3
"""Checks crawl-github's documents of the large test repository against git itself (used by
crawl_github_large.sh). git is the reference: `git ls-tree` for the files at HEAD, `git log`
for commits, parents and times, `git diff-tree` for each commit's changed paths, and git's
core.quotePath form for paths that are not UTF-8 (as curate shows them).

usage: bigrepo_check.py files|commits REPO NAME DOCS.jsonl STATS.json [MAX_COMMITS]
Prints what it checked; exits 1 with the first difference."""
import json
import re
import subprocess
import sys

FILE_DROPS = {"empty", "lfs_pointer", "binary", "invalid_encoding", "generated", "minified",
              "long_line", "too_large", "unknown_language", "vendored", "lock_file"}


def git(repo, *args, quote=False):
    pre = ["-c", "core.quotePath=true"] if quote else ["-c", "core.quotePath=false"]
    return subprocess.run(["git", "--git-dir", repo, *pre, *args], check=True,
                          stdout=subprocess.PIPE).stdout


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def shown(raw, quoted):
    """A path as curate shows it: itself when UTF-8 without control bytes, else git's quoted."""
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        return quoted
    return quoted if any(ord(c) < 0x20 or ord(c) == 0x7f for c in s) else s


def check_files(repo, name, docs, stats):
    raw = git(repo, "ls-tree", "-r", "-z", "HEAD").split(b"\0")[:-1]
    quoted = git(repo, "ls-tree", "-r", "--name-only", "HEAD", quote=True).decode().splitlines()
    if len(raw) != len(quoted):
        fail("ls-tree listings differ in length")
    blobs, links = {}, 0
    for entry, q in zip(raw, quoted):
        meta, path = entry.split(b"\t", 1)
        mode, kind, oid = meta.decode().split()
        if mode in ("120000", "160000"):
            links += 1
        else:
            blobs[shown(path, q)] = oid
    files = [d for d in docs if d["source"] == "github"]
    drops = sum(v["docs"] for k, v in stats["drops"].items() if k in FILE_DROPS)
    print(f"HEAD: {len(blobs)} blobs, {links} links and submodules; "
          f"{len(files)} file documents, {drops} files dropped")
    if len(files) + drops != len(blobs):
        fail(f"file documents + file drops = {len(files) + drops}, ls-tree blobs = {len(blobs)}")
    if stats["counters"].get("links_and_submodules") != links:
        fail(f"links_and_submodules {stats['counters'].get('links_and_submodules')} != {links}")
    seen = set()
    for d in files:
        p = d["metadata"]["path"]
        if p not in blobs:
            fail(f"file document for {p!r}, not in ls-tree")
        if d["metadata"]["blob"] != blobs[p]:
            fail(f"{p}: blob {d['metadata']['blob']} != ls-tree {blobs[p]}")
        if d["id"] != f"gh:{name}:{p}":
            fail(f"{p}: id {d['id']}")
        if p in seen:
            fail(f"{p}: two file documents")
        seen.add(p)
    odd = [p for p in seen if p.startswith('"')]
    if not odd:
        fail("no file document with a path that is not UTF-8 (the recipe adds Latin-1 .go names)")
    repo_paths = [p for d in docs if d["source"] == "repo" for p in d["metadata"]["paths"]]
    if not repo_paths or not set(repo_paths) <= seen:
        fail("repository documents name paths that are not file documents")
    if len(repo_paths) != len(set(repo_paths)):
        fail("a path in two repository documents")
    print(f"file documents match ls-tree (ids, paths, blob ids; {len(odd)} quoted paths, "
          f"e.g. {odd[0]}); {len(repo_paths)} paths in repository documents")


def changed_paths(repo, ids):
    """commit id -> the paths diff-tree lists (first parent, no renames), as curate shows them."""
    stdin = ("\n".join(ids) + "\n").encode()
    args = ["diff-tree", "--stdin", "-r", "--root", "--no-renames", "--name-only"]
    def run(quote, z):
        pre = ["-c", "core.quotePath=true" if quote else "core.quotePath=false"]
        return subprocess.run(["git", "--git-dir", repo, *pre, *args, *(["-z"] if z else [])],
                              input=stdin, check=True, stdout=subprocess.PIPE).stdout
    hexid = re.compile(rb"^[0-9a-f]{40}$")
    def split(tokens):
        out, cur = {}, None
        for t in tokens:
            if hexid.match(t) and t.decode() in want:
                cur = t.decode()
                out[cur] = []
            elif t:
                out[cur].append(t)
        return out
    want = set(ids)
    raw = split(run(False, True).split(b"\0"))
    quoted = split(run(True, False).split(b"\n"))
    return {c: [shown(r, q.decode()) for r, q in zip(raw[c], quoted[c])] for c in raw}


def check_commits(repo, name, docs, stats, max_commits):
    log = git(repo, "log", "--no-merges", "--format=%H %ct %P").decode().split("\n")[:-1]
    info = {l.split()[0]: l.split()[1:] for l in log}
    merges = int(git(repo, "rev-list", "--merges", "--count", "HEAD"))
    commits = [d for d in docs if d["source"] == "commit"]
    large = stats["drops"].get("commit_too_large", {}).get("docs", 0)
    print(f"git: {len(info)} non-merge commits, {merges} merges; "
          f"{len(commits)} commit documents, {large} too large")
    if len(commits) + large != min(max_commits, len(info)):
        fail(f"commit documents + too large = {len(commits) + large}, "
             f"want min({max_commits}, {len(info)})")
    if max_commits >= len(info) and stats["counters"].get("merge_commits_skipped") != merges:
        fail(f"merge_commits_skipped {stats['counters'].get('merge_commits_skipped')} != {merges}")
    ids = [d["metadata"]["commit"] for d in commits]
    if len(set(ids)) != len(ids):
        fail("a commit with two documents")
    paths = changed_paths(repo, ids)
    odd = 0
    for d in commits:
        m = d["metadata"]
        c = m["commit"]
        if c not in info:
            fail(f"commit document {c}: not a non-merge commit of HEAD")
        t, parents = info[c][0], info[c][1:]
        if d["id"] != f"gh-commit:{name}:{c}" or m["time"] != int(t):
            fail(f"{c}: id {d['id']} or time {m['time']} != {t}")
        if m["parent"] != (parents[0] if parents else None):
            fail(f"{c}: parent {m['parent']} != {parents[:1]}")
        if m["changed_paths"] != paths.get(c, []):
            fail(f"{c}: changed_paths {m['changed_paths'][:5]} != diff-tree {paths.get(c, [])[:5]}")
        odd += any(p.startswith('"') for p in m["changed_paths"])
    print(f"commit documents match git log and diff-tree ({odd} with quoted paths)")
    # messages: git log shows each in UTF-8, transcoded from its encoding header
    enc = git(repo, "log", "--no-merges", "--format=%H %e").decode().split("\n")[:-1]
    encoded = [l.split()[0] for l in enc if len(l.split()) > 1]
    byid = {d["metadata"]["commit"]: d for d in commits}
    checked = 0
    for c in encoded:
        if c not in byid:
            continue
        want = git(repo, "log", "-1", "--format=%B", c).decode("utf-8").rstrip("\n")
        text = byid[c]["text"]
        got = text[text.index("<commit_message>\n") + 17:text.index("<changed_paths>")]
        if got.rstrip("\n") != want:
            fail(f"{c}: message {got!r} != git log's {want!r}")
        checked += 1
    if len(encoded) and max_commits >= len(info) and not checked:
        fail("no commit with an encoding header was checked")
    print(f"{checked} messages with an encoding header equal git log's UTF-8")


def main():
    what, repo, name, docs_path, stats_path = sys.argv[1:6]
    docs = [json.loads(l) for l in open(docs_path, encoding="utf-8")]
    stats = json.load(open(stats_path))
    if what == "files":
        check_files(repo, name, docs, stats)
    else:
        check_commits(repo, name, docs, stats, int(sys.argv[6]))


if __name__ == "__main__":
    main()
