#!/usr/bin/env python3
"""STAND-IN for a real LLM server (vLLM, SGLang, llama.cpp server), used by tests and benchmarks.

It is not a model. It speaks the OpenAI chat-completions wire format the way vLLM's
OpenAI-compatible server does, answers deterministically from the prompt, and injects
faults on demand. Python 3 standard library only.

    python3 tests/oracle/server.py --port-file F [--port 0] [--log LOG] [--delay-ms MS]
        [--model NAME ...] [--api-key KEY] [--stall-s S]

Binds 127.0.0.1 (port 0 = any free port), writes the bound port to F (F.tmp, then rename)
once listening, and serves until SIGTERM/SIGINT (exit 0).

Answer. P = content of the last user message, h = sha256(P) in hex, r = int(h[:8], 16) % 11;
with --rate comments, r = round(10 * the share of comment lines) instead: the non-blank lines
between P's first and last ``` fence line (all of P without two) whose stripped text starts
with #, //, /*, * or --; a rating that follows the code, so a scorer can learn it (the demo's
model-centric loop).
Content is "Stand-in review of <len(P)> characters: <adj>, <adj>.\nRating: [[r]]".
finish_reason "stop" ("length" when max_tokens cuts the completion).
usage.prompt_tokens = whitespace-separated words over all messages' content + 4 per message;
completion_tokens = token count under the tokenizer below.

Tokenizer: each maximal run of letters, each single digit, each other single character.

Logprobs ("logprobs": true, "top_logprobs": 0..20). Every token gets logprob -0.01 and
top_logprobs [itself, then fixed alternatives], except the token right after the last "[["
when it is a digit: there, with v = the whole number written after "[[" and c = that first
digit, c gets probability 0.6 and the other nine digits share 0.4, weighted by 2**-|d - v|
(with a small h-derived jitter), sorted by logprob descending. "10" is two tokens "1","0":
the "1" carries the distribution (0.6 on "1", the rest mostly on "9", "8", ...); the "0" is
an ordinary token. So a client that reads only the first digit's distribution sees "1" for
both a rating of 1 and of 10; it must read the following token to tell them apart.

Faults. A marker in P, `@@fault:NAME@@` or `@@fault:NAME:COUNT@@` (the first marker counts),
applies NAME to the first COUNT (default 1) requests whose P has that sha256; later ones are
answered normally. NAME is one of:
  429 | 429ra (Retry-After: 1) | 500 | 503 | 401 (whatever the key) -> that status, error JSON
  stall   -> sleep --stall-s (default 30) seconds, then answer normally
  reset   -> headers with the full Content-Length, half the body, then an RST
  badjson -> 200 whose body is truncated JSON (its Content-Length is correct)
These change the answer on every request (COUNT ignored):
  norating (no "Rating: [[X]]") | outofrange ([[12]]) | refuse | empty ("") |
  truncated (cut before the rating, finish_reason "length")
An unknown NAME is a 400, so a misspelt marker doesn't go unnoticed.

Errors: 400/404/429/500/503 carry vLLM's flat ErrorResponse {"object": "error", "message",
"type", "param", "code"} (newer vLLM releases nest it as {"error": {...}}; clients should
accept both); 401 is {"error": "Unauthorized"}, as vLLM's --api-key middleware sends.
--delay-ms is added to every chat request, errors included. Each log line is written once
the reply is decided, before the delay or stall:
  {"n": count, "sha256": sha256(P) or null, "model": ..., "status": ..., "fault": name or null}
"""
import argparse
import hashlib
import hmac
import json
import math
import os
import re
import signal
import socket
import struct
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FAULT_RE = re.compile(r"@@fault:([a-z0-9]+)(?::(\d+))?@@")
STATUS_FAULTS = {"429": 429, "429ra": 429, "500": 500, "503": 503, "401": 401}
TRANSPORT_FAULTS = {"stall", "reset", "badjson"}
CONTENT_FAULTS = {"norating", "outofrange", "refuse", "empty", "truncated"}
TOKEN_RE = re.compile(r"[^\W\d_]+|\d|.", re.DOTALL)
DIGITS = "0123456789"
# Fixed runners-up for ordinary tokens (20, so 19 remain after dropping the token itself).
ALTERNATIVES = [" ", ".", ",", "\n", "the", "a", "is", "and", "of", "to",
                "in", "it", "code", "ok", ":", "-", "(", ")", "x", "y"]
ADJ_A = ["readable", "terse", "verbose", "clear", "dense", "tidy"]
ADJ_B = ["modular", "idiomatic", "fragile", "well-tested", "monolithic", "consistent"]
ERROR_TYPES = {400: "BadRequestError", 404: "NotFoundError", 429: "RateLimitError",
               500: "InternalServerError", 503: "ServiceUnavailableError"}
UNAUTHORIZED = {"error": "Unauthorized"}  # vLLM's --api-key middleware body


class BadRequest(Exception):
    """Carries (message, param) for a 400."""


def error_body(status, message, param=None):
    """vLLM's (flat) ErrorResponse."""
    return {"object": "error", "message": message, "type": ERROR_TYPES[status],
            "param": param, "code": status}


def text_of(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "".join(str(p.get("text", "")) for p in content
                       if isinstance(p, dict) and p.get("type") == "text")
    return ""


def parse_request(raw, served):
    try:
        req = json.loads(raw)
    except ValueError as e:
        raise BadRequest(f"Invalid JSON body: {e}", None)
    if not isinstance(req, dict):
        raise BadRequest("The request body must be a JSON object.", None)
    msgs = req.get("messages")
    if not isinstance(msgs, list) or not msgs or not all(
            isinstance(m, dict) and "role" in m for m in msgs):
        raise BadRequest("`messages` must be a non-empty list of {role, content}.", "messages")
    if req.get("stream"):
        raise BadRequest("The stand-in does not support streaming.", "stream")
    mt = req.get("max_tokens")
    if mt is not None and (type(mt) is not int or mt < 1):
        raise BadRequest(f"max_tokens must be at least 1, got {mt}.", "max_tokens")
    k = req.get("top_logprobs") or 0
    if type(k) is not int or not 0 <= k <= 20:
        raise BadRequest("top_logprobs must be between 0 and 20.", "top_logprobs")
    if k and not req.get("logprobs"):
        raise BadRequest("when using `top_logprobs`, `logprobs` must be set to true.",
                         "top_logprobs")
    req["model"] = req.get("model") or served[0]  # omitted/null: the first served name
    return req


cfg_rate = ["hash"]  # --rate, set once by main()


def comment_rating(prompt):
    lines = prompt.split("\n")
    fences = [i for i, l in enumerate(lines) if l.strip().startswith("```")]
    if len(fences) >= 2:
        lines = lines[fences[0] + 1:fences[-1]]
    lines = [l.strip() for l in lines if l.strip()]
    marks = ("#", "//", "/*", "*", "--")
    return round(10 * sum(l.startswith(marks) for l in lines) / len(lines)) if lines else 0


def completion(prompt, h, fault, rate="hash"):
    """(content, finish_reason) for P, its hash and any content fault."""
    r = comment_rating(prompt) if rate == "comments" else int(h[:8], 16) % 11
    expl = (f"Stand-in review of {len(prompt)} characters: "
            f"{ADJ_A[int(h[8:10], 16) % len(ADJ_A)]}, {ADJ_B[int(h[10:12], 16) % len(ADJ_B)]}.")
    return {
        "norating": (expl, "stop"),
        "outofrange": (expl + "\nRating: [[12]]", "stop"),
        "refuse": ("I'm sorry, but I can't help with rating this.", "stop"),
        "empty": ("", "stop"),
        "truncated": (expl + "\nRating:", "length"),
    }.get(fault, (f"{expl}\nRating: [[{r}]]", "stop"))


def digit_distribution(value, chosen, h):
    """[(digit, logprob)] descending: 0.6 on `chosen`, 0.4 over the rest by closeness to value."""
    weights = {d: 2.0 ** -abs(d - value) * (1 + int(h[8 + 2 * d:10 + 2 * d], 16) / 510)
               for d in range(10) if d != chosen}
    total = sum(weights.values())
    probs = {chosen: 0.6, **{d: 0.4 * w / total for d, w in weights.items()}}
    return sorted(((str(d), math.log(p)) for d, p in probs.items()), key=lambda t: (-t[1], t[0]))


def logprobs_content(tokens, h, k):
    rating_at = None
    for i in range(2, len(tokens)):
        if tokens[i - 2] == "[" and tokens[i - 1] == "[":
            rating_at = i
    if rating_at is not None and tokens[rating_at] not in DIGITS:
        rating_at = None
    entries = []
    for i, tok in enumerate(tokens):
        if i == rating_at:
            j = i
            while j < len(tokens) and tokens[j] in DIGITS:
                j += 1
            top = digit_distribution(int("".join(tokens[i:j])), int(tok), h)
            lp = dict(top)[tok]
        else:
            lp = -0.01
            alts = [a for a in ALTERNATIVES if a != tok]
            top = [(tok, lp)] + [(a, -5.0 - 0.25 * n) for n, a in enumerate(alts)]
        entries.append({"token": tok, "logprob": lp, "bytes": list(tok.encode()),
                        "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())}
                                         for t, v in top[:k]]})
    return entries


def chat_response(req, prompt, h, fault):
    text, finish = completion(prompt, h, fault, cfg_rate[0])
    tokens = TOKEN_RE.findall(text)
    if req.get("max_tokens") is not None and len(tokens) > req["max_tokens"]:
        tokens, finish = tokens[:req["max_tokens"]], "length"
        text = "".join(tokens)
    logprobs = None
    if req.get("logprobs"):
        logprobs = {"content": logprobs_content(tokens, h, req.get("top_logprobs") or 0)}
    msgs = req["messages"]
    prompt_tokens = sum(len(text_of(m.get("content")).split()) + 4 for m in msgs)
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
        "created": int(time.time()), "model": req["model"],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "logprobs": logprobs, "finish_reason": finish, "stop_reason": None}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(tokens),
                  "total_tokens": prompt_tokens + len(tokens)},
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response carries Content-Length
    server_version = "curate-stand-in/1"
    disable_nagle_algorithm = True  # headers and body are two writes; avoid 40 ms ACK stalls

    def log_message(self, *args):  # no per-request stderr noise
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except ConnectionError:  # client hung up (its timeout, a stall): not our error
            self.close_connection = True

    def authorized(self):
        key = self.server.cfg.api_key
        if key is None:
            return True
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.encode(), key.encode())

    def send_json(self, status, obj, headers=(), body=None):
        body = json.dumps(obj).encode() if body is None else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError(length)
        return self.rfile.read(length)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.startswith("/v1") and not self.authorized():
            self.send_json(401, UNAUTHORIZED)
        elif path == "/v1/models":
            now = int(time.time())
            self.send_json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": now, "owned_by": "curate-stand-in"}
                for m in self.server.cfg.model]})
        elif path == "/health":
            self.send_json(200, None, body=b"")
        else:
            self.send_json(404, {"detail": "Not Found"})

    def do_POST(self):
        try:
            raw = self.read_body()
        except ValueError:
            self.close_connection = True
            return self.send_json(400, error_body(400, "Malformed request body framing."))
        if self.path.split("?", 1)[0] == "/v1/chat/completions":
            self.chat(raw)
        elif self.path.startswith("/v1") and not self.authorized():
            self.send_json(401, UNAUTHORIZED)
        else:
            self.send_json(404, {"detail": "Not Found"})

    def chat(self, raw):
        srv = self.server
        if not self.authorized():
            return self.reply(401, None, None, None, UNAUTHORIZED)
        try:
            req = parse_request(raw, srv.cfg.model)
        except BadRequest as e:
            return self.reply(400, None, None, None, error_body(400, *e.args))
        model = req["model"]
        if model not in srv.cfg.model:
            return self.reply(404, None, model, None,
                              error_body(404, f"The model `{model}` does not exist."))
        users = [m for m in req["messages"] if m.get("role") == "user"]
        prompt = text_of(users[-1].get("content")) if users else ""
        h = hashlib.sha256(prompt.encode()).hexdigest()
        try:
            fault = srv.take_fault(prompt, h)
        except BadRequest as e:
            return self.reply(400, h, model, None, error_body(400, *e.args))
        if fault in STATUS_FAULTS:
            status = STATUS_FAULTS[fault]
            body = UNAUTHORIZED if status == 401 else error_body(
                status, f"Stand-in fault `{fault}` injected.")
            headers = [("Retry-After", "1")] if fault == "429ra" else []
            return self.reply(status, h, model, fault, body, headers)
        self.reply(200, h, model, fault, chat_response(req, prompt, h, fault))

    def reply(self, status, sha, model, fault, obj, headers=()):
        cfg = self.server.cfg
        self.server.log(status, sha, model, fault)
        time.sleep(cfg.delay_ms / 1000.0)
        if fault == "stall":
            time.sleep(cfg.stall_s)
        body = json.dumps(obj).encode()
        if fault == "badjson":
            self.send_json(status, None, headers, body=body[:len(body) // 2])
        elif fault == "reset":
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.close_connection = True
            # SO_LINGER on with timeout 0: close() sends RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.rfile.close()  # drop the makefile reference so close() really closes
            self.connection.close()
        else:
            self.send_json(status, obj, headers)


class StandInServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, cfg):
        super().__init__(("127.0.0.1", cfg.port), Handler)
        self.cfg = cfg
        self.lock = threading.Lock()
        self.fault_uses = {}  # sha256(P) -> faulted requests so far
        self.count = 0
        self.log_file = open(cfg.log, "a", buffering=1, encoding="utf-8") if cfg.log else None

    def take_fault(self, prompt, h):
        m = FAULT_RE.search(prompt)
        if not m:
            return None
        name = m.group(1)
        if name in CONTENT_FAULTS:
            return name
        if name not in STATUS_FAULTS and name not in TRANSPORT_FAULTS:
            raise BadRequest(f"Unknown stand-in fault `{name}`.", "messages")
        with self.lock:
            used = self.fault_uses.get(h, 0)
            if used >= int(m.group(2) or 1):
                return None
            self.fault_uses[h] = used + 1
        return name

    def log(self, status, sha, model, fault):
        with self.lock:
            self.count += 1
            if self.log_file:
                self.log_file.write(json.dumps({"n": self.count, "sha256": sha, "model": model,
                                                "status": status, "fault": fault}) + "\n")
                self.log_file.flush()


def main():
    ap = argparse.ArgumentParser(description="Stand-in for a real LLM server (tests only).")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log")
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--model", action="append")
    ap.add_argument("--api-key")
    ap.add_argument("--stall-s", type=float, default=30.0)
    ap.add_argument("--rate", choices=["hash", "comments"], default="hash")
    cfg = ap.parse_args()
    cfg_rate[0] = cfg.rate
    cfg.model = cfg.model or ["stand-in-coder"]
    stop = threading.Event()  # handlers first: once the port file exists, SIGTERM exits 0
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    server = StandInServer(cfg)  # bound and listening once constructed
    with open(cfg.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(cfg.port_file + ".tmp", cfg.port_file)

    threading.Thread(target=server.serve_forever, daemon=True).start()
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    if server.log_file:
        server.log_file.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
