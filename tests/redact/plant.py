#!/usr/bin/env python3
"""Plants secrets and personal data, of every kind the redact stage knows, into real files.

Usage: plant.py OUTDIR TRUTH.jsonl KEYDIR

KEYDIR holds real private keys (*.pem, made by the test with openssl: a private key is
planted as a real one, since a checker may rightly test that its body is a key).

Copies real source files (Python's standard library, /usr/include, Go's standard library)
into OUTDIR and inserts, at seeded random lines, secrets of each kind in the ways they leak:
in string literals, in comments and in configuration files (.env, YAML, JSON, INI, shell)
that the script writes around real-looking settings. Every secret is random (seeded, so the
files are the same on every run) in its service's real format. TRUTH.jsonl gets one line a
planted secret: file, kind, value, and its first and last line (1-based) in the file.
"""
import base64
import glob
import json
import os
import random
import string
import sys

R = random.Random(2023)
ALNUM = string.ascii_letters + string.digits
UPPER_DIGIT = string.ascii_uppercase + string.digits


def pick(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


KEYS = []


def private_key():
    KEYS.append(KEYS.pop(0))  # each key in turn
    return KEYS[-1]


def password():
    # what people type: letters, digits and some punctuation, not starting with a sigil
    first = pick(string.ascii_letters, 1)
    return first + pick(ALNUM + "!#%^&*-_+~", R.randrange(9, 18))


def jwt():
    head = b64url(json.dumps({"alg": R.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    body = b64url(json.dumps({"sub": str(R.randrange(10**9)), "name": "x", "iat": R.randrange(10**9)}).encode())
    return f"{head}.{body}.{b64url(bytes(R.randrange(256) for _ in range(32)))}"


def public_ipv4():
    while True:
        o = [R.randrange(1, 224), R.randrange(256), R.randrange(256), R.randrange(1, 255)]
        if o[0] in (10, 100, 127, 169, 172, 192, 198, 203) or max(o) < 32:
            continue  # keep clear of private and documentation ranges
        return ".".join(map(str, o))


SECRETS = {
    "aws_access_key": lambda: "AKIA" + pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
    "aws_secret_key": lambda: pick(ALNUM + "/+", 40),
    "github_token": lambda: R.choice(["ghp_", "gho_", "ghs_"]) + pick(ALNUM, 36)
    if R.random() < 0.7 else "github_pat_" + pick(ALNUM, 22) + "_" + pick(ALNUM, 59),
    "gitlab_token": lambda: "glpat-" + pick(ALNUM + "_-", 20),
    "slack_token": lambda: R.choice(["xoxb-", "xoxp-"]) + pick(string.digits, 12) + "-" +
    pick(string.digits, 13) + "-" + pick(ALNUM, 24),
    "slack_webhook": lambda: "https://hooks.slack.com/services/T" + pick(UPPER_DIGIT, 8) + "/B" +
    pick(UPPER_DIGIT, 10) + "/" + pick(ALNUM, 24),
    "stripe_key": lambda: R.choice(["sk_live_", "rk_live_", "sk_test_"]) + pick(ALNUM, 24),
    "google_api_key": lambda: "AIza" + pick(ALNUM + "_-", 35),
    "openai_key": lambda: "sk-proj-" + pick(ALNUM + "_-", 40) + "T3BlbkFJ" + pick(ALNUM + "_-", 40)
    if R.random() < 0.5 else "sk-" + pick(ALNUM, 20) + "T3BlbkFJ" + pick(ALNUM, 20),
    "anthropic_key": lambda: "sk-ant-api03-" + pick(ALNUM + "_-", 93) + "AA",
    "huggingface_token": lambda: "hf_" + pick(ALNUM, 34),
    "npm_token": lambda: "npm_" + pick(ALNUM, 36),
    "sendgrid_key": lambda: "SG." + pick(ALNUM + "_-", 22) + "." + pick(ALNUM + "_-", 43),
    "shopify_token": lambda: R.choice(["shpat_", "shpss_"]) + pick("0123456789abcdef", 32),
    "jwt": jwt,
    "high_entropy": lambda: pick(ALNUM, R.randrange(24, 48)),
    "password": password,
}

# How a secret stands in a line of code: %s is the secret; the name suits the kind.
NAMES = {
    "aws_access_key": "aws_access_key_id", "aws_secret_key": "aws_secret_access_key",
    "github_token": "github_token", "gitlab_token": "gitlab_token", "slack_token": "slack_bot_token",
    "slack_webhook": "webhook_url", "stripe_key": "stripe_api_key", "google_api_key": "maps_api_key",
    "openai_key": "openai_api_key", "anthropic_key": "anthropic_key", "huggingface_token": "hf_token",
    "npm_token": "npm_auth", "sendgrid_key": "sendgrid_api_key", "shopify_token": "shopify_access",
    "jwt": "auth_header", "high_entropy": "api_secret",
    "password": "db_password",
}
COMMENT = {"py": "# ", "h": "/* ", "go": "// "}
COMMENT_END = {"py": "", "h": " */", "go": ""}


def code_line(ext, kind, value):
    name = NAMES[kind]
    if R.random() < 0.35 and kind not in ("password", "high_entropy", "aws_secret_key"):
        # in a comment, as a note someone left
        return f"{COMMENT[ext]}TODO remove before release: {value}{COMMENT_END[ext]}"
    if ext == "py":
        return f'{name} = "{value}"' if R.random() < 0.5 else f"{name.upper()} = '{value}'"
    if ext == "h":
        return f'static const char *{name} = "{value}";'
    return f'var {name} = "{value}"' if R.random() < 0.5 else f'\t{name} := "{value}"'


def pii_line(ext, kind, value):
    c, e = COMMENT[ext], COMMENT_END[ext]
    if kind == "email":
        return R.choice([f"{c}Author: Jane Roe <{value}>{e}", f"{c}Contact {value} for access{e}",
                         f'contact = "{value}"' if ext == "py" else f"{c}maintainer: {value}{e}"])
    return R.choice([f"{c}production server at {value}{e}",
                     f'HOST = "{value}"' if ext == "py" else f"{c}fallback host {value}:8080{e}"])


def email():
    first, last = pick(string.ascii_lowercase, R.randrange(3, 8)), pick(string.ascii_lowercase, R.randrange(3, 9))
    dom = R.choice(["gmail.com", "acme-corp.io", "mail.example-university.edu", "web.de", "proton.me"])
    return f"{first}.{last}@{dom}"


def url_pw():
    # what a URL's user part may hold unescaped (RFC 3986: unreserved and some sub-delims)
    return pick(string.ascii_letters, 1) + pick(ALNUM + "-._~!*+", R.randrange(9, 16))


def url_password(pw):
    user = pick(string.ascii_lowercase, 6)
    return R.choice([f"postgres://{user}:{pw}@db.internal-corp.net:5432/app",
                     f"https://{user}:{pw}@git.acme-corp.io/repo.git",
                     f"mysql://{user}:{pw}@10.1.2.3/shop"])


def config_files(out, truth):
    """Configuration files as people write them, each with its secrets."""
    files = []
    pw, aws_id, aws_secret = password(), SECRETS["aws_access_key"](), SECRETS["aws_secret_key"]()
    gh, tok, hook = SECRETS["github_token"](), SECRETS["high_entropy"](), SECRETS["slack_webhook"]()
    env = [("# application settings", None), ("APP_ENV=production", None), ("DEBUG=false", None),
           (f"DB_PASSWORD={pw}", ("password", pw)), (f"AWS_ACCESS_KEY_ID={aws_id}", ("aws_access_key", aws_id)),
           (f"AWS_SECRET_ACCESS_KEY={aws_secret}", ("aws_secret_key", aws_secret)),
           (f"export GITHUB_TOKEN={gh}", ("github_token", gh)), (f"SESSION_SECRET={tok}", ("high_entropy", tok)),
           (f"SLACK_WEBHOOK={hook}", ("slack_webhook", hook)), ("PORT=8080", None)]
    files.append(("app/.env", env))
    pw2, st, goog, ip = password(), SECRETS["stripe_key"](), SECRETS["google_api_key"](), public_ipv4()
    url = url_password(url_pw())
    yaml = [("database:", None), ("  host: db.internal", None), ("  user: shop", None),
            (f"  password: {pw2}", ("password", pw2)),
            (f"  url: {url}", ("url_password", url.split(":")[2].split("@")[0])),
            ("payments:", None), (f"  stripe_secret_key: {st}", ("stripe_key", st)),
            (f"  maps_api_key: \"{goog}\"", ("google_api_key", goog)),
            (f"  upstream: {ip}", ("ipv4", ip)), ("  retries: 3", None)]
    files.append(("deploy/config.yaml", yaml))
    oa, jw, em, pw3 = SECRETS["openai_key"](), jwt(), email(), password()
    js = [("{", None), ('  "name": "service",', None), (f'  "openai_api_key": "{oa}",', ("openai_key", oa)),
          (f'  "token": "{jw}",', ("jwt", jw)), (f'  "owner": "{em}",', ("email", em)),
          (f'  "password": "{pw3}",', ("password", pw3)), ('  "workers": 4', None), ("}", None)]
    files.append(("settings.json", js))
    pw4, gl, sl = password(), SECRETS["gitlab_token"](), SECRETS["slack_token"]()
    ini = [("[server]", None), ("port = 8443", None), (f"admin_password = {pw4}", ("password", pw4)),
           ("[ci]", None), (f"gitlab_token = {gl}", ("gitlab_token", gl)),
           (f"slack_token = {sl}", ("slack_token", sl))]
    files.append(("conf/app.ini", ini))
    key = private_key()
    sa = {"type": "service_account", "project_id": "demo-123", "private_key_id": pick("0123456789abcdef", 40),
          "private_key": key + "\n", "client_email": "svc@demo-123.iam.gserviceaccount.com"}
    text = json.dumps(sa, indent=2)
    files.append(("gcp/service-account.json", [(l, None) for l in text.split("\n")]))
    truth_extra = [("gcp/service-account.json", "private_key", key.split("\n")[1],
                    [i + 1 for i, l in enumerate(text.split("\n")) if "BEGIN" in l][0])]
    pw5 = password()
    sh = [("#!/bin/sh", None), ("set -e", None), (f"export PGPASSWORD={pw5}", ("password", pw5)),
          ('psql -h db -U app -c "select 1"', None)]
    files.append(("scripts/deploy.sh", sh))
    for rel, lines in files:
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("\n".join(l for l, _ in lines) + "\n")
        for i, (_, t) in enumerate(lines):
            if t:
                truth.append({"file": rel, "kind": t[0], "value": t[1], "first": i + 1, "last": i + 1})
    for rel, kind, value, line in truth_extra:
        truth.append({"file": rel, "kind": kind, "value": value, "first": line, "last": line})


def main():
    out, truth_path = sys.argv[1], sys.argv[2]
    KEYS.extend(open(p).read().strip() for p in sorted(glob.glob(sys.argv[3] + "/*.pem")))
    py = sorted(glob.glob("/usr/lib/python3.*/*.py"))
    inc = sorted(p for p in glob.glob("/usr/include/*.h") if os.path.getsize(p) > 2000)
    go = sorted(glob.glob("/usr/share/go-1.*/src/net/http/*.go"))
    chosen = [("py", p) for p in R.sample(py, 30)] + [("h", p) for p in R.sample(inc, 30)] + \
             [("go", p) for p in R.sample(go, 30)]
    kinds = list(SECRETS) + ["private_key", "url_password", "email", "ipv4"]
    truth = []
    for n, (ext, src) in enumerate(chosen):
        lines = open(src, encoding="utf-8", errors="replace").read().split("\n")
        plants = []
        for j in range(4):
            kind = kinds[(n * 4 + j) % len(kinds)]
            if kind == "private_key":
                v = private_key()
                block = v.split("\n")
                if ext == "py":
                    body = ['KEY = """' + block[0]] + block[1:-1] + [block[-1] + '"""']
                elif ext == "go":
                    body = ["const testKey = `" + block[0]] + block[1:-1] + [block[-1] + "`"]
                else:
                    body = ["/*"] + block + ["*/"]
                plants.append((kind, block[1], body))
            elif kind == "url_password":
                pw = url_pw()
                u = url_password(pw)
                plants.append((kind, pw, [f'{COMMENT[ext]}clone with {u}{COMMENT_END[ext]}' if R.random() < 0.5
                                          else (f'DSN = "{u}"' if ext == "py" else f'static const char *dsn = "{u}";'
                                                if ext == "h" else f'var dsn = "{u}"')]))
            elif kind in ("email", "ipv4"):
                v = email() if kind == "email" else public_ipv4()
                plants.append((kind, v, [pii_line(ext, kind, v)]))
            else:
                v = SECRETS[kind]()
                plants.append((kind, v, [code_line(ext, kind, v)]))
        # insert from the bottom up so earlier line numbers stay right
        spots = sorted(R.sample(range(len(lines)), len(plants)), reverse=True)
        placed = []
        for at, (kind, v, body) in zip(spots, plants):
            lines[at:at] = body
            placed = [(k, val, f + len(body), l + len(body)) for k, val, f, l in placed]
            placed.append((kind, v, at + 1, at + len(body)))
        rel = f"{ext}/{n:02d}_{os.path.basename(src)}"
        os.makedirs(os.path.join(out, ext), exist_ok=True)
        with open(os.path.join(out, rel), "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        for kind, v, first, last in placed:
            truth.append({"file": rel, "kind": kind, "value": v, "first": first, "last": last})
    config_files(out, truth)
    with open(truth_path, "w") as f:
        for t in truth:
            f.write(json.dumps(t) + "\n")


main()
