#!/usr/bin/env python3
"""make_site.py DIR: writes the small web site the crawl-web tests crawl with wget: real
documentation pages from Debian's git-doc, a page of code highlighters with boilerplate around
it, pages in several character sets declared in different ways (HTTP header, <meta>, BOM,
none), pages sent gzip-compressed and chunked (tests/web/serve.py), a plain-text file, a page
too short to keep, a broken link, and an index linking all of them."""
import os
import shutil
import sys

root = sys.argv[1]
GITDOC = "/usr/share/doc/git-doc"
pages = {}


def page(path, data):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)
    pages[path] = True


for name in ("git-log", "gittutorial", "git-add", "user-manual"):
    page("docs/%s.html" % name, open("%s/%s.html" % (GITDOC, name), "rb").read())
# the same page through a compressed and a chunked response
add = open("%s/git-add.html" % GITDOC, "rb").read()
page("docs/git-add.gzip.html", add)
page("docs/git-add.chunked.html", add)

page("docs/highlight.html", b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Highlighters</title>
<meta name="generator" content="Sphinx 7.2.6">
<script>var tracking = "SCRIPT_TEXT";</script><style>.x { color: red }</style></head>
<body><nav>NAV_TEXT home about</nav><div class="sidebar">SIDEBAR_TEXT</div>
<header>HEADER_TEXT site banner</header>
<main><h1>Highlighters</h1>
<p>This page shows code from several highlighters, so that languages are read from their class hints.</p>
<div class="highlight-python notranslate"><div class="highlight"><pre><span></span><span class="k">def</span> <span class="nf">f</span>(x):
    <span class="k">return</span> x &lt; 2 and x &gt; 0
</pre></div></div>
<pre><code class="language-rust">fn main() {
    println!("hi");
}</code></pre>
<pre class="sourceCode haskell"><code>main = putStrLn "hi"</code></pre>
<div class="syntaxhighlighter js"><table><tr><td class="gutter"><div class="line number1">1</div><div class="line number2">2</div></td><td class="code"><div class="container"><div class="line number1"><code class="js keyword">var</code> <code class="js plain">a = 1;</code></div><div class="line number2"><code class="js plain">alert(a);</code></div></div></td></tr></table></div>
<pre class="prettyprint linenums lang-go"><ol class="linenums"><li class="L0">package main</li><li class="L1">func main() {}</li></ol></pre>
<table class="highlighttable"><tr><td class="linenos"><div class="linenodiv"><pre>1
2</pre></div></td><td class="code"><div class="highlight"><pre>SELECT 1;
SELECT&nbsp;2;</pre></div></td></tr></table>
<p>Inline <code>x  =
 1</code> stays in the sentence, <b>bold</b> too.</p>
<pre>a ```fenced``` line</pre>
<div style="display: none">HIDDEN_TEXT</div>
</main><footer>FOOTER_TEXT copyright</footer></body></html>
""")

words = b" with enough ordinary words in it to be kept by the filter"
page("docs/latin1.html", b'<html><head><meta http-equiv="Content-Type" content="text/html; '
     b'charset=iso-8859-1"></head><body><p>Le caf\xe9 est pr\xeat' + words + b'</p></body></html>')
page("blog/2023/05/sjis.cs-shift_jis.html", b"<html><body><p>" +
     "日本語のテキストです。".encode("shift_jis") + words + b"</p></body></html>")
page("forum/bom.html", b"\xef\xbb\xbf<html><body><p>Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln" + words +
     b"</p></body></html>")
page("questions/utf16.html", ("\ufeff<html><body><p>Ελληνικά κείμενα" + words.decode() +
                              "</p></body></html>").encode("utf-16-le"))
page("cyrillic.html", b'<html><head><meta charset="windows-1251"></head><body><p>' +
     "Привет мир".encode("cp1251") + words + b"</p></body></html>")
page("guess.html", b"<html><body><p>Un caf\xe9 sans d\xe9claration" + words + b"</p></body></html>")
page("conflict.cs-utf-8.html", b'<html><head><meta charset="iso-8859-1"></head><body><p>'
     b"Le caf\xc3\xa9 en UTF-8" + words + b"</p></body></html>")
page("short.html", b"<html><body><p>only nine words here in this short page</p></body></html>")
page("notes.txt", b"plain text, not HTML, with enough words to count as a page otherwise\n")

links = sorted(pages) + ["missing.html"]
index = b"<html><head><title>Test site</title></head><body><h1>Index of the test site</h1><ul>"
index += b"".join(b'<li><a href="%s">%s</a></li>' % (p.encode(), p.encode()) for p in links)
page("index.html", index + b"</ul></body></html>")
