#!/usr/bin/env python3
"""The recipe of the large test repository (tests/e2e/crawl_github_large.sh).

Writes a `git fast-import` stream to stdout: real source trees from Debian packages (Go 1.19's
standard library from golang-1.19-src, the syn, serde and regex-syntax crates from librust-*-dev)
committed as a history of a few thousand commits over more than a year: the tree added in
batches, then edits, additions, renames, deletions, binary files (Go's own PNG test data), files
larger than commit.max_bytes, a submodule and a symbolic link, paths and messages that are not
UTF-8, and side branches merged back with two-parent merge commits.

Everything is decided by a fixed 64-bit generator (splitmix64) over the sorted file list, so the
same packages give the same repository, commit ids included. The caller keys its cache by this
file and the packages' versions.

usage: bigrepo.py GO_SRC CARGO_REGISTRY  | git fast-import --quiet
"""
import os
import sys

MASK = (1 << 64) - 1
STATE = [0x5EED_C0DE]


def rnd():
    """splitmix64: the next 64-bit value."""
    STATE[0] = (STATE[0] + 0x9E3779B97F4A7C15) & MASK
    z = STATE[0]
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def below(n):
    return rnd() % n


GO_DIRS = ["archive", "bufio", "bytes", "compress", "container", "context", "crypto", "database",
           "encoding", "errors", "expvar", "flag", "fmt", "go", "hash", "html", "image", "io",
           "log", "math", "mime", "net", "os", "path", "plugin", "reflect", "regexp", "sort",
           "strconv", "strings", "sync", "testing", "text", "time", "unicode", "unsafe"]
CRATES = ["syn", "serde", "regex-syntax"]
MAX_FILE = 1 << 20  # larger source files are left out (Go's test data has a few)


def sources(go_src, registry):
    """(path in the repository, bytes), sorted by path."""
    out = []
    for d in GO_DIRS:
        for root, dirs, files in os.walk(os.path.join(go_src, d)):
            dirs.sort()
            for f in sorted(files):
                p = os.path.join(root, f)
                if os.path.islink(p) or os.path.getsize(p) > MAX_FILE:
                    continue
                out.append(("go/" + os.path.relpath(p, go_src), p))
    for c in CRATES:
        vers = sorted(x for x in os.listdir(registry) if x.startswith(c + "-"))
        if not vers:
            sys.exit(f"bigrepo: no {c} crate in {registry}")
        base = os.path.join(registry, vers[-1])
        for root, dirs, files in os.walk(base):
            dirs.sort()
            for f in sorted(files):
                p = os.path.join(root, f)
                if os.path.islink(p) or f.startswith(".cargo"):
                    continue
                out.append(("rust/" + c + "/" + os.path.relpath(p, base), p))
    out.sort()
    return [(r.encode(), open(p, "rb").read()) for r, p in out]


W = sys.stdout.buffer
MARK = [0]


def blob(data):
    MARK[0] += 1
    W.write(b"blob\nmark :%d\ndata %d\n" % (MARK[0], len(data)))
    W.write(data)
    W.write(b"\n")
    return MARK[0]


AUTHORS = [b"Ada Lovelace <ada@example.org>", b"Jos\xc3\xa9 Mar\xc3\xada <jose@example.org>",
           b"Grace Hopper <grace@example.org>", b"Linus Ng <linus@example.org>",
           b"\xe7\x8e\x8b\xe5\xb0\x8f\xe6\x98\x8e <wang@example.org>"]
CLOCK = [1546300800]  # 2019-01-01


class Branch:
    def __init__(self, name, tree, head):
        self.name, self.tree, self.head = name, dict(tree), head


def commit(br, msg, changes, merge=None, encoding=None):
    """changes: (path, mark or None to delete, mode); returns the commit's mark."""
    CLOCK[0] += 600 + below(4 * 3600)
    MARK[0] += 1
    who = AUTHORS[below(len(AUTHORS))]
    W.write(b"commit refs/heads/%s\nmark :%d\n" % (br.name, MARK[0]))
    W.write(b"author %s %d +0000\ncommitter %s %d +0000\n" % (who, CLOCK[0], who, CLOCK[0]))
    if encoding:
        W.write(b"encoding %s\n" % encoding)
    W.write(b"data %d\n%s\n" % (len(msg), msg))
    if br.head:
        W.write(b"from :%d\n" % br.head)
    if merge:
        W.write(b"merge :%d\n" % merge)
    for path, mark, mode in changes:
        if mark is None:
            W.write(b"D %s\n" % path)
            br.tree.pop(path, None)
        else:
            W.write(b"M %s %s %s\n" % (mode, mark if isinstance(mark, bytes) else b":%d" % mark, path))
            br.tree[path] = (mark, mode)
    W.write(b"\n")
    br.head = MARK[0]
    return br.head


def words(data):
    """A few identifiers of a file, for messages that BM25 can match."""
    out, cur = [], bytearray()
    for c in data[:4000]:
        if chr(c).isalnum() or c == 95:
            cur.append(c)
        else:
            if 4 <= len(cur) <= 24 and not cur[:1].isdigit():
                out.append(bytes(cur))
            cur = bytearray()
    return out or [b"code"]


def edit(data, n):
    """A real edit: a line inserted, removed or duplicated at a seeded place."""
    lines = data.split(b"\n")
    i = below(len(lines))
    k = below(3)
    if k == 0:
        lines.insert(i, b"// edit %d: keep %s in step" % (n, words(data)[below(len(words(data)))]))
    elif k == 1 and len(lines) > 3:
        del lines[i]
    else:
        lines.insert(i, lines[i])
    return b"\n".join(lines)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    files = sources(sys.argv[1], sys.argv[2])
    content = {}  # mark -> bytes, for edits of what a branch holds
    def put(data):
        m = blob(data)
        content[m] = data
        return m
    pngs = [(p, d) for p, d in files if p.endswith(b".png")]
    text = [(p, d) for p, d in files if b"\0" not in d[:8000]]
    main_br = Branch(b"main", {}, None)
    readme = put(b"# bigrepo\n\nGo's standard library and three Rust crates, as one repository "
                 b"with a long history, for curate's crawl-github test.\n")
    commit(main_br, b"Initial commit: README\n", [(b"README.md", readme, b"100644")])
    # 1. the tree, added in batches of a directory's files
    pending = list(text)
    n = 0
    while pending:
        k = 1 + below(24)
        batch, pending = pending[:k], pending[k:]
        top = batch[0][0].split(b"/")[1]
        commit(main_br, b"%s: add %d files\n\nImported from %s.\n" % (top, len(batch), batch[0][0]),
               [(p, put(d), b"100644") for p, d in batch])
    # 2. the history: one change a commit, seeded; side branches merged back
    side = None
    for n in range(1, 2801):
        br = main_br
        if side is None and n % 47 == 0:
            side = Branch(b"topic-%d" % n, main_br.tree, main_br.head)
            side_paths, main_paths, side_left = set(), set(), 3 + below(4)
        elif side is not None and below(2):
            br = side
        paths = sorted(p for p, (m, mode) in br.tree.items() if mode == b"100644" and m in content and b"/" in p
                       and b"\0" not in content[m][:8000])
        if side is not None:  # the two branches change disjoint files: merges without conflicts
            paths = [p for p in paths if p not in (side_paths if br is main_br else main_paths)]
        p = paths[below(len(paths))]
        d = content[br.tree[p][0]]
        name = p.rsplit(b"/", 1)[-1]
        w = words(d)
        kind = below(100)
        changes, msg, enc = [], None, None
        if n == 700:  # a submodule and a symbolic link
            changes = [(b".gitmodules", put(b'[submodule "vendor/lib"]\n\tpath = vendor/lib\n'
                        b"\turl = https://example.org/lib.git\n"), b"100644"),
                       (b"vendor/lib", b"0123456789abcdef0123456789abcdef01234567", b"160000"),
                       (b"LATEST", put(b"README.md"), b"120000")]
            msg = b"vendor: add lib as a submodule, LATEST as a link\n"
        elif n % 331 == 0:  # a path that is not UTF-8 (Latin-1), with a Latin-1 message
            q = b"docs/caf\xe9-%d.txt" % n
            changes = [(q, put(b"caf\xe9 cr\xe8me\n" * (1 + n % 7)), b"100644")]
            msg, enc = b"docs: add caf\xe9 notes (Latin-1)\n", b"iso-8859-1"
        elif n % 509 == 0 and p.endswith(b".go"):  # Go code under a Latin-1 file name
            q = p.rsplit(b"/", 1)[0] + b"/d\xe9j\xe0_%d.go" % n
            changes = [(q, br.tree[p][0], b"100644")]
            msg = b"%s: copy %s under a Latin-1 name\n" % (p.split(b"/")[1], name)
        elif n % 401 == 0:  # a message with bytes that are not UTF-8 and no encoding header
            changes = [(p, put(edit(d, n)), b"100644")]
            msg = b"%s: fix \xff\xfe bytes in %s\n" % (name, w[0])
        elif n % 157 == 0:  # a file larger than commit.max_bytes (1 MiB)
            big = b"".join(b"%08d %s\n" % (i, w[i % len(w)]) for i in range(90000))
            changes = [(b"data/large-%d.txt" % n, put(big), b"100644")]
            msg = b"data: add a large generated table\n"
        elif kind < 3 and pngs:  # binary: Go's own PNG test data
            q, pd = pngs[below(len(pngs))]
            changes = [(b"assets/" + q.rsplit(b"/", 1)[-1], put(pd), b"100644")]
            msg = b"assets: add image %s\n" % q.rsplit(b"/", 1)[-1]
        elif kind < 11:  # rename
            q = p.rsplit(b"/", 1)[0] + b"/renamed_" + name
            if q in br.tree:
                q = q.replace(b"renamed_", b"renamed2_")
            changes = [(p, None, None), (q, br.tree[p][0], b"100644")]
            msg = b"%s: rename %s to %s\n" % (p.split(b"/")[1], name, q.rsplit(b"/", 1)[-1])
        elif kind < 16 and len(paths) > 100:  # delete
            changes = [(p, None, None)]
            msg = b"%s: remove %s\n\nNo longer used by %s.\n" % (p.split(b"/")[1], name, w[-1])
        elif kind < 24:  # a new file beside an old one
            q = p.rsplit(b"/", 1)[0] + b"/extra_%d_" % n + name
            changes = [(q, put(d[: len(d) // 2 + 1] + b"\n// split %d\n" % n), b"100644")]
            msg = b"%s: split %s out of %s\n" % (p.split(b"/")[1], w[below(len(w))], name)
        else:  # edit one to three files
            changes = [(p, put(edit(d, n)), b"100644")]
            for _ in range(below(3)):
                q = paths[below(len(paths))]
                if q != p and q not in [c[0] for c in changes]:
                    changes.append((q, put(edit(content[br.tree[q][0]], n)), b"100644"))
            msg = b"%s: update %s in %s\n\nKeep %s and %s consistent.\n" % (
                p.split(b"/")[1], w[below(len(w))], name, w[0], w[-1])
        if side is not None:
            (side_paths if br is side else main_paths).update(c[0] for c in changes)
        commit(br, msg, changes, encoding=enc)
        if br is side:
            side_left -= 1
            if side_left == 0:  # merge back: main's tree plus what the side branch changed
                merged = [(q, side.tree[q][0], side.tree[q][1]) if q in side.tree else (q, None, None)
                          for q in sorted(side_paths)]
                commit(main_br, b"Merge branch '%s'\n" % side.name, merged, merge=side.head)
                side = None
    W.write(b"reset refs/heads/main\nfrom :%d\n\n" % main_br.head)


if __name__ == "__main__":
    main()
