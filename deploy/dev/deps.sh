#!/bin/sh
# Installs the Debian 12 packages the build, `make run` and `make test` need, only when one is
# missing, so a second run costs one dpkg query. Needs root (or sudo) the first time.
set -eu
PKGS="build-essential pkg-config libcivetweb-dev libzmq3-dev libmsgpack-dev libpq-dev
libsystemd-dev libjansson-dev libsodium-dev zlib1g-dev clang libclang-rt-14-dev libcriterion-dev libcurl4-openssl-dev
postgresql postgresql-contrib pgbouncer openssl systemd wrk curl prometheus python3 python3-websocket python3-yaml chromium"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $missing
