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
)

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
touch "$stamp"
