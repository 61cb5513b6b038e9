# env.sh: sourced by the crawl-web tests and benchmark. Fetches (once, cached under
# ~/.cache/curate/<pkg>-<version>/ with `npm pack`) the npm packages that ship real WARC files
# (shared/REFERENCES.md) and exports where they are:
#   WARCIO_DATA  warcio@1.0.3 package/test/data (example.warc[.gz], -resource, -wget-bad-target-uri)
#   CC_WARC      warc@1.0.1's Common Crawl 2014 slice (uncompressed, 13 records)
web_cache="${XDG_CACHE_HOME:-$HOME/.cache}/curate"
web_npm_pack() { # name version -> unpacks into $web_cache/NAME-VERSION/package
  local d="$web_cache/$1-$2"
  if [ ! -d "$d/package" ]; then
    command -v npm >/dev/null || { echo "crawl-web: npm not found (run make deps)" >&2; return 1; }
    rm -rf "$d.tmp.$$" && mkdir -p "$d.tmp.$$" &&
      (cd "$d.tmp.$$" && npm pack --silent --ignore-scripts "$1@$2" >/dev/null 2>&1 && tar xzf ./*.tgz) &&
      { mkdir -p "$d" && mv "$d.tmp.$$/package" "$d/package" && mv "$d.tmp.$$"/*.tgz "$d/"; rm -rf "$d.tmp.$$"; } ||
      { rm -rf "$d.tmp.$$"; echo "crawl-web: npm pack $1@$2 failed" >&2; return 1; }
  fi
}
web_npm_pack warcio 1.0.3 && web_npm_pack warc 1.0.1 || return 1
export WARCIO_DATA="$web_cache/warcio-1.0.3/package/test/data"
export CC_WARC="$web_cache/warc-1.0.1/package/test/fixtures/CC-MAIN-20140820021334-00006-ip-10-180-136-8.ec2.internal.warc"
# warcio.js itself, with its dependencies: the reference reader the tests compare against
web_npm_install() { # name version -> installs into $web_cache/NAME-VERSION/node_modules
  local d="$web_cache/$1-$2"
  [ -d "$d/node_modules/$1" ] || npm install --silent --no-save --ignore-scripts --prefix "$d" "$1@$2" >/dev/null 2>&1 \
    || { echo "crawl-web: npm install $1@$2 failed" >&2; return 1; }
}
web_npm_install warcio 1.0.3 || return 1
export WARCIO_NODE_PATH="$web_cache/warcio-1.0.3/node_modules"
