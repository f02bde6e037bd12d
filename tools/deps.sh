#!/usr/bin/env bash
# Checks the Debian packages a make target needs. As root it installs the
# missing ones; otherwise it prints the exact apt-get line and fails.
# Usage: tools/deps.sh GROUP...   (groups: build test bench cross)
set -euo pipefail
declare -A PKGS=(
  [build]="build-essential cmake pkg-config libssl-dev libpq-dev zlib1g-dev libpsl-dev libc-ares-dev libjansson-dev libbrotli-dev libzstd-dev node-llhttp valgrind"
  [test]="postgresql curl nginx tinyproxy wrk openssl python3 python3-aiohttp python3-h11 nodejs node-ws python3-wsproto brotli zstd testssl.sh gdb clang llvm libclang-rt-14-dev procps"
  [bench]="golang-go golang-github-jackc-pgx-v4-dev golang-github-gorilla-websocket-dev node-ws python3-uvloop python3-aiohttp python3-asyncpg nodejs libuv1-dev libboost-context-dev g++ wrk nginx libcurl4-openssl-dev util-linux liburing-dev"
  [cross]="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user"
)
missing=()
for g in "$@"; do
  for p in ${PKGS[$g]}; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null
else
  echo "missing Debian packages; run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
