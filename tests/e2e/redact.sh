# The redact stage against npm's secretlint (recommended preset, pinned by
# scripts/secretlint.sh) on the same files. Planted: real Python, C and Go files with secrets
# of every kind inserted in strings, comments and configuration files (.env, YAML, JSON, INI,
# shell, a GCP service-account file), private keys real ones made here by openssl and
# ssh-keygen: curate finds every one, replaces it with its placeholder and never writes the
# secret into metadata; per kind, it finds at least as many as secretlint. Clean: real files
# with no planted secret (Linux UAPI headers, Python's urllib/email/http, Go's crypto/tls,
# crypto/x509, net/url, net/http, net/smtp): files with a finding of a kind both tools cover
# are not more for curate than for secretlint (a private key openssl reads is a true finding
# for either). The kinds, placeholder, drop and tag options; 1 and 2 ranks alike.
source "$(dirname "$0")/lib.sh"
SL=$(bash "$ROOT/scripts/secretlint.sh") || { echo "skip: secretlint cannot be fetched from npm"; exit 77; }
SLD=$(cd "$(dirname "$SL")/../.." && pwd)
cd "$T"
secretlint() { # out.json globs...: secretlint's findings, JSON (it exits 1 when it finds any)
  local out=$T/$1; shift
  echo '{"rules":[{"id":"@secretlint/secretlint-rule-preset-recommend"}]}' >"$T/secretlintrc.json"
  (cd "$SLD" && "$SL" --secretlintrc "$T/secretlintrc.json" --format json --no-maskSecrets "$@" >"$out") ||
    test -s "$out" || fail "secretlint failed"
}
run() { # workdir options...: import is done; runs redact
  local w=$1; shift
  "$CURATE" redact stages=[import,redact] workdir="$w" --force "$@" >"$T/run.log" 2>&1 ||
    { cat "$T/run.log"; fail "redact $* failed"; }
}
out() { zstdcat "$1"/redact/part-*.jsonl.zst; }

# 1. planted secrets: real private keys, then the files
mkdir keys
for i in 1 2; do
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out keys/rsa$i.pem 2>/dev/null
  openssl rsa -in keys/rsa$i.pem -traditional -out keys/rsatrad$i.pem 2>/dev/null
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out keys/ec$i.pem
  openssl ec -in keys/ec$i.pem -out keys/ectrad$i.pem 2>/dev/null
  openssl genpkey -algorithm ED25519 -out keys/ed$i.pem
  ssh-keygen -q -t ed25519 -N "" -C "" -f keys/ssh$i && mv keys/ssh$i keys/ssh$i.pem
done
python3 "$ROOT/tests/redact/plant.py" "$T/planted" truth.jsonl keys
check "many secrets planted" test "$(wc -l <truth.jsonl)" -ge 300
"$CURATE" import workdir="$T/w" "import.paths=[$T/planted]" "import.exclude=[]" import.shards=3 >/dev/null 2>&1 ||
  fail "import failed"
run "$T/w"
out "$T/w" >redacted.jsonl
check "every file kept" test "$(wc -l <redacted.jsonl)" = "$(find planted -type f | wc -l)"
secretlint sl.json "$T/planted/**/*" "$T/planted/**/.*"
python3 "$ROOT/tests/redact/score.py" planted truth.jsonl "$T/planted" redacted.jsonl sl.json >score.txt
cat score.txt | sed '$d'
python3 - score.txt <<'PY' || fail "recall"
import json, sys
s = json.loads(open(sys.argv[1]).read().strip().split("\n")[-1])
if s["missed"]:
    sys.exit("curate missed: " + "; ".join(s["missed"]))
for kind, (n, cur, sl) in s["per_kind"].items():
    if cur < sl:
        sys.exit(f"{kind}: curate found {cur}, secretlint {sl}")
print(f'recall: curate {s["curate"]}/{s["planted"]}, secretlint {s["secretlint"]}/{s["planted"]}')
PY
python3 - truth.jsonl redacted.jsonl <<'PY' || fail "a secret is still in the output"
import json, sys
# no planted value anywhere in what curate wrote: not in the text, not in metadata
out = open(sys.argv[2], encoding="utf-8").read()
for t in map(json.loads, open(sys.argv[1])):
    if t["value"] in out:
        sys.exit(f'{t["file"]}:{t["first"]}: {t["kind"]} value still in the output')
PY
for k in GITHUB_TOKEN PRIVATE_KEY AWS_SECRET_KEY PASSWORD EMAIL IPV4 JWT URL_PASSWORD HIGH_ENTROPY; do
  contains redacted.jsonl "<$k>"
done
S="$T/w/redact/stats.json"
check "findings counted per kind" test "$(jq '.counters.found_github_token' "$S")" = \
  "$(jq -s 'map(.metadata.redacted.github_token // 0) | add' redacted.jsonl)"
check "documents with findings counted" test "$(jq '.counters.documents_with_findings' "$S")" = \
  "$(jq -s 'map(select(.metadata.redacted)) | length' redacted.jsonl)"
env_text=$(jq -r 'select(.id | endswith("app/.env")) | .text' redacted.jsonl)
check "an unquoted .env password is redacted and the rest of the line kept" \
  grep -qx 'DB_PASSWORD=<PASSWORD>' <<<"$env_text"
check "settings around secrets are kept" grep -qx 'PORT=8080' <<<"$env_text"

# 2. options: placeholder, kinds, tag, drop, sources
run "$T/w" "redact.placeholder=[{kind}]" "redact.kinds=[email, ipv4]"
out "$T/w" >kinds.jsonl
contains kinds.jsonl "[email]"
check "only the kinds asked for" test "$(jq -r '.metadata.redacted // {} | keys[]' kinds.jsonl | sort -u | tr '\n' ' ')" = "email ipv4 "
run "$T/w" redact.action=tag
out "$T/w" >tag.jsonl
check "tag: the text is the input's" test "$(jq -r .text tag.jsonl | sha256sum)" = \
  "$(zstdcat "$T"/w/import/part-*.jsonl.zst | jq -r .text | sha256sum)"
check "tag: metadata as when redacting" test "$(jq -c .metadata.redacted tag.jsonl | sha256sum)" = \
  "$(jq -c .metadata.redacted redacted.jsonl | sha256sum)"
run "$T/w" redact.action=drop "redact.kinds=[private_key]"
check "drop: documents with a key dropped, reason private_key" test \
  "$(jq '.drops.private_key.docs' "$T/w/redact/stats.json")" = \
  "$(jq -r 'select(.kind == "private_key") | .file' truth.jsonl | sort -u | wc -l)"
run "$T/w" "redact.sources=[web]"
check "sources: import documents pass untouched" test "$(jq '.counters.other_source' "$T/w/redact/stats.json")" = \
  "$(wc -l <redacted.jsonl)"
if "$CURATE" redact stages=[import,redact] workdir="$T/w" "redact.kinds=[emails]" --force >bad.log 2>&1; then
  fail "an unknown kind was accepted"
fi
contains bad.log "unknown kind 'emails'"

# 3. 2 ranks write the same shards
run "$T/w"
sha1=$(cat "$T"/w/redact/part-*.jsonl.zst | sha256sum)
mpiexec -n 2 "$CURATE" redact stages=[import,redact] workdir="$T/w" --force >/dev/null 2>&1 || fail "2 ranks failed"
check "same shards on 2 ranks" test "$(cat "$T"/w/redact/part-*.jsonl.zst | sha256sum)" = "$sha1"

# 4. clean real files: false positives against secretlint's on the kinds both cover
G=$(ls -d /usr/share/go-1.*/src | head -1) P=$(ls -d /usr/lib/python3.[0-9]* | head -1)
dirs=(/usr/include/linux "$P/urllib" "$P/email" "$P/http" "$G/crypto/tls" "$G/crypto/x509" "$G/net/url"
  "$G/net/http" "$G/net/smtp")
list=$(printf '%s, ' "${dirs[@]}")
"$CURATE" import workdir="$T/c" "import.paths=[${list%, }]" import.shards=4 >/dev/null 2>&1 || fail "import clean"
run "$T/c"
out "$T/c" >clean.jsonl
secretlint slc.json "${dirs[@]/%//**/*}"
both=private_key,aws_access_key,aws_secret_key,github_token,gitlab_token,slack_token,slack_webhook,stripe_key,google_api_key,openai_key,anthropic_key,huggingface_token,npm_token,sendgrid_key,shopify_token,url_password
python3 "$ROOT/tests/redact/score.py" clean clean.jsonl slc.json "$both" >clean.json
python3 - clean.json "$both" <<'PY' || fail "false positives"
import json, re, subprocess, sys
c = json.load(open(sys.argv[1]))
docs = {d["id"]: d for d in map(json.loads, open("clean.jsonl", encoding="utf-8"))}
def real_keys_only(path):
    """1 when the file's findings of shared kinds are all PEM private keys openssl reads"""
    d = docs.get(path, {})
    if (set(d.get("metadata", {}).get("redacted", {})) & set(sys.argv[2].split(","))) - {"private_key"}:
        return False
    text = open(path, encoding="utf-8", errors="replace").read()
    blocks = re.findall(r"-----BEGIN[ A-Z0-9]*PRIVATE KEY-----.*?-----END[ A-Z0-9]*PRIVATE KEY-----", text, re.S)
    return blocks and all(subprocess.run(["openssl", "pkey", "-noout"], input=b.encode(),
                                         capture_output=True).returncode == 0 for b in blocks)
cur = [p for p in c["curate_list"] if not real_keys_only(p)]
sl = [p for p in c["secretlint_list"] if not real_keys_only(p)]
print(f'clean: {c["files"]} files; with a finding of a shared kind: curate {len(cur)}, '
      f'secretlint {len(sl)} (real keys aside: curate {len(c["curate_list"]) - len(cur)})')
print("curate findings by kind:", json.dumps(c["findings"], sort_keys=True))
if len(cur) > len(sl):
    sys.exit(f"curate flags {cur}, secretlint {sl}")
PY
