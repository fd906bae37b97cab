#!/bin/sh
# Builds the fast, lean, static wolfSSL ringedge links against, from Debian's own source
# package, into a cache outside the checkout, and prints the install prefix as the LAST line of
# stdout (everything else goes to stderr):
#
#	prefix=$(scripts/build-wolfssl.sh | tail -1)
#	meson setup build -Dwolfssl_prefix="$prefix"
#
# Why: Debian's libwolfssl has no AES-NI and no assembly (AES-128-GCM ~164 MB/s here, the
# fast build several GB/s) and is built with --enable-distro (57 KiB per idle TLS 1.3
# connection vs ~4 KiB lean). See docs/wolfssl.md for every flag.
#
# The prefix is ${RINGEDGE_CACHE:-/var/cache/ringedge}/wolfssl-<version>-<hash>, the hash
# covering the version, the Debian suite, the configure flags and RECIPE; when it already holds
# lib/libwolfssl.a and include/wolfssl/options.h nothing is done. Change any of them and the
# next run builds a new prefix (old ones are left for rollback; delete them by hand).
#
# The source comes from apt itself: a private apt configuration (own sources file, lists and
# caches under a temporary directory; the machine's apt state is not touched) with deb-src
# entries for the mirror the machine already uses for Debian, so no registry host name is
# written anywhere. Needs root only to apt-get install missing build tools.
#
# Exit status: 0 and the prefix on stdout, or non-zero with a message on stderr (callers then
# fall back to the system libwolfssl, which meson supports with a loud warning).

set -eu

# Bump when the way the library is built changes in a way the flags do not show.
RECIPE=2
WOLFSSL_VERSION=5.7.2
# Newest Debian suite shipping WOLFSSL_VERSION; the machine's own suite is added so apt can
# resolve the source index for either.
WOLFSSL_SUITE=trixie

# Lean flags: only what ringedge uses. Rationale per flag in docs/wolfssl.md; keep the two
# in sync.
CONFIGURE_FLAGS="
--disable-shared
--enable-static
--with-pic
--enable-tls13
--enable-tlsv12
--enable-oldtls
--enable-tlsv10
--enable-sni
--enable-alpn
--enable-session-ticket
--enable-ecc
--enable-curve25519
--enable-rsa
--enable-aesgcm
--enable-chacha
--enable-poly1305
--enable-aesni
--enable-intelasm
--enable-sp
--enable-sp-asm
--enable-sys-ca-certs
--enable-certgen
--enable-certreq
--enable-certext
--enable-keygen
--disable-examples
--disable-crypttests
--disable-benchmark
--disable-opensslextra
--disable-opensslall
--disable-jobserver
"
# Defines configure has no switch for (appended through wolfSSL's C_EXTRA_FLAGS, so configure's
# own optimisation flags stay): the ACME client (core/acme/) needs SANs in its CSR
# (WOLFSSL_ALT_NAMES) and the critical id-pe-acmeIdentifier extension of the TLS-ALPN-01
# challenge certificate (WOLFSSL_CUSTOM_OID + HAVE_OID_ENCODING, for wc_SetCustomExtension).
EXTRA_CFLAGS="-DWOLFSSL_ALT_NAMES -DWOLFSSL_CUSTOM_OID -DHAVE_OID_ENCODING"
BUILD_DEPS="autoconf automake libtool dpkg-dev make gcc"

log()
{
	echo "build-wolfssl: $*" >&2
}

die()
{
	echo "build-wolfssl: ERROR: $*" >&2
	echo "build-wolfssl: callers fall back to the system libwolfssl (slow: no AES-NI)" >&2
	exit 1
}

# One line per flag in the hash input so reordering whitespace does not change the key.
flags_key()
{
	printf 'recipe=%s\nversion=%s\nsuite=%s\n' "$RECIPE" "$WOLFSSL_VERSION" "$WOLFSSL_SUITE"
	for f in $CONFIGURE_FLAGS; do
		printf '%s\n' "$f"
	done
	for f in $EXTRA_CFLAGS; do
		printf 'cflag %s\n' "$f"
	done
}

cache=${RINGEDGE_CACHE:-/var/cache/ringedge}
hash=$(flags_key | sha256sum | cut -c1-12)
prefix=$cache/wolfssl-$WOLFSSL_VERSION-$hash

installed()
{
	[ -f "$1/lib/libwolfssl.a" ] && [ -f "$1/include/wolfssl/options.h" ]
}

if installed "$prefix"; then
	log "up to date: $prefix"
	echo "$prefix"
	exit 0
fi

mkdir -p "$cache" || die "cannot create cache directory $cache (set RINGEDGE_CACHE)"

# Serialise concurrent builds (CI and engineers share the cache); the second caller waits and
# then finds the prefix installed.
exec 9>"$cache/.build-wolfssl.lock" || die "cannot open lock in $cache"
if command -v flock >/dev/null 2>&1; then
	flock 9 || die "cannot lock $cache/.build-wolfssl.lock"
fi
if installed "$prefix"; then
	log "built by a concurrent run: $prefix"
	echo "$prefix"
	exit 0
fi

# --- build dependencies -------------------------------------------------------------------
missing=
for p in $BUILD_DEPS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	[ "$(id -u)" = 0 ] || die "missing build tools:$missing (install them as root)"
	log "installing build tools:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update >&2 || die "apt-get update failed"
	# shellcheck disable=SC2086
	apt-get install -y --no-install-recommends $missing >&2 || die "apt-get install$missing failed"
fi

# --- the machine's Debian mirror ----------------------------------------------------------
# Prints "URI SIGNED-BY" of the first binary entry for the machine's own suite, from deb822
# *.sources files or one-line sources.list / *.list files, where apt-config says they are
# (APT_CONFIG is honoured). Security and -updates suites are skipped: they do not carry
# trixie's wolfssl.
find_mirror()
{
	codename=$1
	sl=/etc/apt/sources.list
	sp=/etc/apt/sources.list.d/
	eval "$(apt-config shell sl Dir::Etc::sourcelist/f sp Dir::Etc::sourceparts/d 2>/dev/null)"
	for f in "$sp"*.sources; do
		[ -f "$f" ] || continue
		awk -v want="$codename" '
		function flush() {
			if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " want " ") &&
			    enabled != "no" && uri != "" && !done) {
				print uri, (signed == "" ? "-" : signed); done = 1
			}
			types = suites = uri = signed = enabled = ""
		}
		/^[ \t]*#/ { next }
		/^[ \t]*$/ { flush(); next }
		{
			key = tolower($1); sub(/:$/, "", key)
			val = $0; sub(/^[^:]*:[ \t]*/, "", val)
			if (key == "types") types = val
			else if (key == "suites") suites = val
			else if (key == "uris") { split(val, u, /[ \t]+/); uri = u[1] }
			else if (key == "signed-by") signed = val
			else if (key == "enabled") enabled = tolower(val)
		}
		END { flush() }' "$f"
	done
	for f in "$sl" "$sp"*.list; do
		[ -f "$f" ] || continue
		awk -v want="$codename" '
		/^[ \t]*deb[ \t]/ {
			line = $0; signed = "-"
			sub(/^[ \t]*deb[ \t]+/, "", line)
			if (line ~ /^\[/) {
				opts = line; sub(/\].*/, "", opts); sub(/^[^]]*\][ \t]*/, "", line)
				if (match(opts, /signed-by=[^ \]]+/))
					signed = substr(opts, RSTART + 10, RLENGTH - 10)
			}
			split(line, w, /[ \t]+/)
			if (w[2] == want) { print w[1], signed; exit }
		}' "$f"
	done
}

# shellcheck disable=SC1091
codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || codename=bookworm
mirror=$(find_mirror "$codename" | head -1)
[ -n "$mirror" ] || die "no 'deb' entry for Debian '$codename' in the apt sources (apt-config dump Dir::Etc)"
uri=${mirror% *}
signed=${mirror#* }
# Trixie's Release is signed with keys a bookworm-only keyring (or an inline Signed-By) lacks;
# debian-archive-keyring.gpg holds all current Debian archive keys. Without any keyring file apt
# falls back to its trusted.gpg.d.
if [ -f /usr/share/keyrings/debian-archive-keyring.gpg ]; then
	signed=/usr/share/keyrings/debian-archive-keyring.gpg
elif [ "$signed" = - ] || [ ! -f "$signed" ]; then
	signed=
fi
log "mirror from apt configuration: $uri (keyring ${signed:-apt trusted.gpg.d})"

# --- fetch the Debian source package with a private apt state ------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/build-wolfssl.XXXXXX")
stage=$prefix.tmp.$$
trap 'rm -rf "$work" "$stage"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/parts" "$work/src"
cat >"$work/sources.sources" <<EOF
Types: deb-src
URIs: $uri
Suites: $codename $WOLFSSL_SUITE
Components: main
${signed:+Signed-By: $signed}
EOF
# Our own sources, lists and caches: the machine's apt state is neither read for sources nor
# written. The sandbox user is root because _apt cannot write into our private directory.
set -- -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$work/parts" \
	-o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" \
	-o "APT::Sandbox::User=root" -o "Acquire::Languages=none" -o "APT::Get::List-Cleanup=0"
cp "$work/sources.sources" "$work/parts/ringedge-wolfssl.sources"

start=$(date +%s)
log "apt-get update (private source index for $codename $WOLFSSL_SUITE)"
# --error-on=any: a mirror that cannot be reached must fail here, not as a confusing
# "unable to find a source package" below.
apt-get "$@" --error-on=any update >&2 || die "apt-get update of the deb-src index failed"
log "apt-get source wolfssl/$WOLFSSL_SUITE"
(cd "$work/src" && apt-get "$@" source --download-only "wolfssl/$WOLFSSL_SUITE" >&2) ||
	die "apt-get source --download-only wolfssl/$WOLFSSL_SUITE failed"

dsc=
for f in "$work"/src/wolfssl_*.dsc; do
	[ -f "$f" ] && dsc=$f
done
[ -n "$dsc" ] || die "apt-get source fetched no wolfssl .dsc"
debver=$(sed -n 's/^Version: //p' "$dsc" | head -1)
upver=${debver#*:}
upver=${upver%-*}
upver=${upver%%+*}
[ "$upver" = "$WOLFSSL_VERSION" ] ||
	die "Debian $WOLFSSL_SUITE now ships wolfssl $debver, the recipe expects $WOLFSSL_VERSION: update WOLFSSL_VERSION in $0"
log "fetched wolfssl $debver"

# dpkg-source checks the file sizes and hashes the .dsc lists (apt already checked the .dsc
# against the signed Sources index) and applies Debian's patches.
(cd "$work/src" && dpkg-source -x "$(basename "$dsc")" wolfssl >&2) ||
	die "dpkg-source -x $(basename "$dsc") failed"

# --- build and install --------------------------------------------------------------------
cd "$work/src/wolfssl"
log "autogen + configure"
./autogen.sh >&2 || die "autogen.sh failed"
# shellcheck disable=SC2086
./configure --prefix="$prefix" $CONFIGURE_FLAGS C_EXTRA_FLAGS="$EXTRA_CFLAGS" >"$work/configure.log" 2>&1 ||
	{ tail -30 "$work/configure.log" >&2; die "configure failed (flags: CONFIGURE_FLAGS in $0)"; }
for d in WOLFSSL_AESNI USE_INTEL_SPEEDUP WOLFSSL_SP_X86_64_ASM WOLFSSL_TLS13 HAVE_SNI HAVE_ALPN \
    HAVE_SESSION_TICKET HAVE_CURVE25519 HAVE_AESGCM HAVE_CHACHA WOLFSSL_CERT_GEN WOLFSSL_CERT_REQ \
    WOLFSSL_CERT_EXT WOLFSSL_KEY_GEN WOLFSSL_ALT_NAMES WOLFSSL_CUSTOM_OID HAVE_OID_ENCODING; do
	grep -q "^#define $d\$\|^#define $d " wolfssl/options.h ||
		die "configure did not define $d in options.h"
done
if grep -q '^#define OPENSSL_EXTRA' wolfssl/options.h; then
	die "options.h has OPENSSL_EXTRA: the lean build must not"
fi
jobs=$(nproc 2>/dev/null || echo 2)
log "make -j$jobs"
make -j"$jobs" >"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; die "make failed"; }

# Install into a staging prefix and rename it: a half-installed prefix is never seen as
# complete by installed(), even if this run is killed.
rm -rf "$stage"
make install prefix="$stage" >"$work/install.log" 2>&1 ||
	{ tail -30 "$work/install.log" >&2; rm -rf "$stage"; die "make install failed"; }
# Libtool's .la and pkg-config files name the staging path; ringedge links the .a directly.
rm -f "$stage"/lib/*.la
sed -i "s|$stage|$prefix|g" "$stage"/lib/pkgconfig/*.pc 2>/dev/null || true
cp "$dsc" "$stage/debian-source.dsc"
cp "$work/configure.log" "$stage/configure.log"
flags_key >"$stage/build-flags.txt"
rm -rf "$prefix"
mv "$stage" "$prefix" || die "cannot move $stage to $prefix"
installed "$prefix" || die "install left no lib/libwolfssl.a or options.h in $prefix"

log "built wolfssl $debver in $(($(date +%s) - start)) s: $prefix"
echo "$prefix"
