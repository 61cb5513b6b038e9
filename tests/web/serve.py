#!/usr/bin/env python3
"""serve.py DIR PORTFILE: serves DIR on 127.0.0.1 (a free port, written to PORTFILE) over
HTTP/1.1 for the crawl-web tests, so that wget's WARC holds the HTTP cases a crawl meets:
a file named NAME.cs-CHARSET.html is sent with `charset=CHARSET` in its Content-Type,
NAME.gzip.html gzip-compressed with Content-Encoding: gzip, NAME.chunked.html with
Transfer-Encoding: chunked; everything else as Python's http.server sends it."""
import gzip
import http.server
import os
import re
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.translate_path(self.path)
        name = os.path.basename(path)
        if not os.path.isfile(path) or not name.endswith(".html"):
            return super().do_GET()
        body = open(path, "rb").read()
        ctype = "text/html"
        m = re.search(r"\.cs-([A-Za-z0-9_-]+)\.html$", name)
        if m:
            ctype += "; charset=" + m.group(1)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if name.endswith(".gzip.html"):
            body = gzip.compress(body, mtime=0)
            self.send_header("Content-Encoding", "gzip")
        if name.endswith(".chunked.html"):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 700):
                part = body[i:i + 700]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


os.chdir(sys.argv[1])
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
server.serve_forever()
