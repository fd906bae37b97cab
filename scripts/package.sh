#!/bin/bash
# Builds the Debian package ringedge_<version>_amd64.deb (Debian 12, as root) from this tree:
#
#   scripts/package.sh [OUTDIR]          # default OUTDIR: the top of the tree
#   apt-get install ./ringedge_*.deb
#
# Installs the build dependencies from Debian, builds the fast static wolfSSL (cached in
# /var/cache/ringedge, scripts/build-wolfssl.sh), copies the tree's files (tracked and
# untracked, minus .gitignore'd build output) into a temporary directory and runs
# `dpkg-buildpackage -b -us -uc` there (debian/rules: meson, unit tests unless
# DEB_BUILD_OPTIONS=nocheck), so neither the tree nor its parent directory gets build files.
# LINTIAN=1 also runs lintian on the result. Prints the .deb's path as the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=$(mkdir -p "${1:-$root}" && cd "${1:-$root}" && pwd)

PACKAGES=(
	build-essential dpkg-dev debhelper pkg-config meson ninja-build
	liburing-dev libinih-dev libsystemd-dev libcurl4-openssl-dev libjansson-dev
	autoconf automake libtool git
	openssl ca-certificates    # unit tests: acme_jws makes certificates, tls_conn verifies
	                           # against the system CA bundle
)
[ "${LINTIAN:-0}" = 1 ] && PACKAGES+=(lintian)
need=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "package: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${need[@]}" >&2
fi

# the package never falls back to Debian's slow libwolfssl: no prefix, no package
prefix=$(scripts/build-wolfssl.sh | tail -1)
[ -f "$prefix/lib/libwolfssl.a" ] || { echo "package: no static wolfSSL from" \
	"scripts/build-wolfssl.sh" >&2; exit 1; }
export RINGEDGE_WOLFSSL_PREFIX=$prefix

version=$(dpkg-parsechangelog -S Version)
work=$(mktemp -d /tmp/ringedge-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/ringedge-$version
mkdir "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -T - -cf - |
		tar -C "$src" -xf -
else
	tar --exclude='./build*' --exclude=./.git -cf - . | tar -C "$src" -xf -
fi
(cd "$src" && dpkg-buildpackage -b -us -uc >&2)
deb=ringedge_${version}_$(dpkg-architecture -qDEB_HOST_ARCH).deb
cp "$work/$deb" "$out/"
if [ "${LINTIAN:-0}" = 1 ]; then
	# errors fail the build; warnings are printed
	lintian --fail-on error "$out/$deb" >&2
fi
echo "$out/$deb"
