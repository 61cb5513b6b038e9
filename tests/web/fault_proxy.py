#!/usr/bin/env python3
"""fault_proxy.py: a TEST FAULT INJECTOR, an HTTP/1.1 reverse proxy in front of a real server
(tests/web/nginx.sh), for the download tests.

  fault_proxy.py --upstream http://127.0.0.1:PORT --port-file F [--log LOG]

Listens on 127.0.0.1 (a free port, written to F once listening), serves until SIGTERM.
GET and HEAD go to the upstream; a path prefix picks a fault and is stripped before forwarding:
  /drop/N/P    the first GET of this URL: headers and N body bytes, then the connection is
               closed (FIN): the client gets exactly N bytes, then the end mid-body
  /changed/N/P the same as drop, and later responses carry another ETag (the file changed)
  /reset/N/P   the same as drop, but the close is a reset (RST): the client may lose the bytes its
               kernel had not handed over yet, so how many arrive is not fixed
  /503/K/P     the first K requests of this URL: 503 with Retry-After: 1
  /503now/K/P  the same without Retry-After
  /trunc/P     every request: the upstream's headers (full Content-Length), half the body, FIN
  /404/P       always 404
  anything else passes through. Counts are kept per full request path (prefix included).
--log: one JSON line a request: path, method, range, status, fault, bytes (body bytes sent).
"""
import argparse
import http.client
import http.server
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import urllib.parse

FORWARD = ("Range", "If-Range", "If-None-Match", "If-Modified-Since", "User-Agent")
RELAY = ("Content-Length", "Content-Range", "Content-Type", "ETag", "Last-Modified",
         "Accept-Ranges", "Retry-After")
FAULT = re.compile(r"^/(?:(drop|reset|changed|503|503now)/(\d+)|(trunc|404))(/.*)$")
CHUNK = 64 * 1024


class Proxy(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream, log):
        super().__init__(("127.0.0.1", 0), Handler)
        u = urllib.parse.urlsplit(upstream)
        self.up_host, self.up_port, self.up_prefix = u.hostname, u.port or 80, u.path.rstrip("/")
        self.log, self.lock, self.seen = log, threading.Lock(), {}

    def count(self, key):  # how many earlier requests this URL had
        with self.lock:
            n = self.seen.get(key, 0)
            self.seen[key] = n + 1
            return n


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.sent, self.fault_name, self.status = 0, None, None
        try:
            self.serve()
        except (ConnectionError, TimeoutError):  # the client went away
            self.close_connection = True
        finally:
            self.write_log()

    def serve(self):
        path, fault, arg = self.path, None, 0
        m = FAULT.match(self.path)
        if m:
            fault, arg, path = m.group(1) or m.group(3), int(m.group(2) or 0), m.group(4)
        if fault == "404":
            return self.fail(fault, 404, "not found (fault_proxy)\n")
        if fault in ("503", "503now") and self.server.count(self.path) < arg:
            return self.fail(fault, 503, "unavailable (fault_proxy)\n", fault == "503")
        # (count() counts this request too: call it once, for GETs only)
        first = fault in ("drop", "reset", "changed") and self.command == "GET" and \
            self.server.count(self.path) == 0
        drop = first
        self.new_etag = fault == "changed" and self.command == "GET" and not first
        if fault == "trunc" or drop:
            self.fault_name = fault
        up = http.client.HTTPConnection(self.server.up_host, self.server.up_port, timeout=60)
        try:
            headers = {h: self.headers[h] for h in FORWARD if self.headers[h] is not None}
            try:
                up.request(self.command, self.server.up_prefix + path, headers=headers)
                resp = up.getresponse()
            except OSError as e:
                return self.fail(None, 502, f"upstream: {e}\n")
            self.relay(resp, drop_after=arg if drop else None, trunc=fault == "trunc",
                       rst=fault == "reset")
        finally:
            up.close()

    def relay(self, resp, drop_after, trunc, rst=False):
        self.status = resp.status
        self.send_response(resp.status)
        for h in RELAY:
            if h == "ETag" and getattr(self, "new_etag", False):
                self.send_header(h, '"changed-by-fault-proxy"')
            elif resp.getheader(h) is not None:
                self.send_header(h, resp.getheader(h))
        length = resp.getheader("Content-Length")
        bodiless = self.command == "HEAD" or resp.status in (204, 304) or resp.status < 200
        if length is None and not bodiless:  # no length: the end of the body is our close
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if bodiless:
            return
        limit = None
        if drop_after is not None:
            limit = drop_after
        elif trunc:
            limit = int(length) // 2 if length is not None else CHUNK
        while limit is None or self.sent < limit:
            want = CHUNK if limit is None else min(CHUNK, limit - self.sent)
            data = resp.read(want)
            if not data:
                break
            self.wfile.write(data)
            self.sent += len(data)
        if drop_after is not None and rst:  # abort: close with SO_LINGER 0 sends a RST, not a FIN
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()  # drop the makefile() reference, so that close() really closes
            self.connection.close()
            self.close_connection = True
        elif trunc or drop_after is not None:
            self.close_connection = True  # the server's shutdown_request sends a clean FIN

    def fail(self, fault, status, text, retry_after=False):
        self.fault_name, self.status = fault, status
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if retry_after:
            self.send_header("Retry-After", "1")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
            self.sent = len(body)

    def write_log(self):
        if self.server.log is None:
            return
        rec = {"path": self.path, "method": self.command, "range": self.headers["Range"],
               "status": self.status, "fault": self.fault_name, "bytes": self.sent}
        with self.server.lock:
            self.server.log.write(json.dumps(rec) + "\n")
            self.server.log.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    a = ap.parse_args()
    log = open(a.log, "a") if a.log else None
    server = Proxy(a.upstream, log)

    def stop(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    with open(a.port_file + ".tmp", "w") as f:
        f.write(f"{server.server_address[1]}\n")
    os.replace(a.port_file + ".tmp", a.port_file)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
