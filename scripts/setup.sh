#!/bin/bash
# Installs what ringedge needs from Debian, builds the fast wolfSSL (cached) and configures
# and builds ringedge into BUILD_DIR (default: build). Sourced or run by demo.sh and test.sh.
#
#   scripts/setup.sh [BUILD_DIR [extra meson options...]]
#
# Idempotent: packages already installed and an up-to-date build are left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
	gcc make pkg-config meson ninja-build      # build
	liburing-dev libinih-dev libwolfssl-dev    # libraries (libwolfssl-dev: fallback only)
	libcurl4-openssl-dev libjansson-dev        # ACME client (core/acme), /status.json
	libhiredis-dev redis-server                # auth guard shared counts; tests: a real Redis
	pebble                                     # tests: a real ACME server
	libsystemd-dev                             # sd_notify (Type=notify unit)
	python3 python3-pytest curl openssl        # tests: real clients
	python3-gssapi gss-ntlmssp                 # tests: real NTLM acceptor and client
	clang libclang-rt-14-dev                   # libFuzzer targets
	nginx-light haproxy wrk                    # real servers and peers for tests and bench
	nftables                                   # scenarios: the kernel's L4 balancer (jhash DNAT)
	procps iproute2 ca-certificates
	strace                                     # test_ringbench: io_uring_enter counts
	chromium                                   # test_status: the admin status page, headless
)

need=()
for p in "${PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	echo "setup: installing ${need[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
	# nginx and haproxy are started by tests and benchmarks, never as system services
	command -v systemctl >/dev/null && systemctl disable --now nginx haproxy >/dev/null 2>&1 || true
fi

# Tests and demos name backends "localhost". Every installed Debian has it in /etc/hosts, but a
# bare debootstrap chroot has no /etc/hosts at all: add the standard lines only then.
if ! getent hosts localhost >/dev/null; then
	echo "setup: localhost does not resolve; adding the standard entries to /etc/hosts" >&2
	printf '127.0.0.1\tlocalhost\n' >>/etc/hosts
fi

# The fast wolfSSL (AES-NI, asm), or loudly the system one.
if prefix=$(scripts/build-wolfssl.sh | tail -1) && [ -n "$prefix" ]; then
	wolfssl_opt=-Dwolfssl_prefix=$prefix
else
	echo "setup: *** WARNING: the fast wolfSSL build failed; linking the SYSTEM libwolfssl:" \
	     "AES-NI is OFF ***" >&2
	wolfssl_opt=-Dwolfssl_prefix=
fi

build=${1:-build}
shift || true
if [ -f "$build/build.ninja" ]; then
	meson configure "$build" "$wolfssl_opt" "$@" >/dev/null
else
	meson setup "$build" --buildtype=debugoptimized -Dwerror=true "$wolfssl_opt" "$@" >&2
fi
ninja -C "$build" >&2
