#!/bin/bash
# SPDX-License-Identifier: MIT
# install-deps.sh - installs what priorfs needs to build (and, with --ci, to
# run every test; with --bench, to run contrib/bench/) on Debian 12.
#
# Installs only when something is missing, so it is quick on a prepared
# machine. Uses sudo unless run as root; never reads stdin.
set -euo pipefail

PKGS=(build-essential autoconf automake libtool pkg-config
	libfuse3-dev fuse3 libzstd-dev libxxhash-dev libopenblas-dev check python3)
case "${1:-}" in
--ci) # libFuzzer and the sanitizer runtimes are only "recommended" by clang.
	PKGS+=(zstd fio attr acl xz-utils clang libclang-rt-14-dev git
		python3-numpy python3-torch sqlite3 rsync groff-base mandoc) ;;
--bench) # the compressors contrib/bench/codec.sh compares against
	PKGS+=(zstd xz-utils zpaq bzip3 bc fio) ;;
esac

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || {
		echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
		exit 1
	}
	SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q </dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
