#!/bin/bash
# Install test of the Debian package, as root on a Debian 12 that should be brand-new:
#
#   ../shared/tools/fresh-debian . 'bash scripts/package.sh && bash test/package/install-test.sh'
#   test/package/install-test.sh [--short] [DEB]      # DEB default: ./ringedge_*.deb
#
# 1. `apt-get install ./ringedge_*.deb` pulls only Debian packages, and every shared library
#    the binaries load belongs to a package in the closure of the .deb's Depends;
# 2. `ringedge -t` passes on the shipped /etc/ringedge/ringedge.ini (as root and as the
#    ringedge user); the ringedge system user exists; the unit passes `systemd-analyze verify`
#    (not with --short: that installs systemd and man-db);
# 3. ringedge starts the way ringedge.service would (user ringedge, only
#    CAP_NET_BIND_SERVICE as ambient capability, no new privileges), in a network namespace of
#    its own (the example binds 0.0.0.0:80 and :443), and serves: port 80 answers the
#    example's redirect, 443 does TLS with the generated certificate; it reloads on SIGHUP and
#    exits 0 on SIGTERM;
# 4. `apt-get purge ringedge` removes its files, configuration, generated certificate and logs
#    (the system user stays, as Debian does for system users).
# Prints the time of each step; exits non-zero at the first failure.
set -euo pipefail
short=0
if [ "${1:-}" = --short ]; then short=1; shift; fi
deb=${1:-$(ls ./ringedge_*_amd64.deb | tail -1)}
deb=$(readlink -f "$deb")
export DEBIAN_FRONTEND=noninteractive
t0=$(date +%s.%N)
step() { printf "install-test: %-58s %6.1f s\n" "$1" "$(awk -v a="$(date +%s.%N)" -v b="$t0" "BEGIN { print a - b }")"; }
fail() { echo "install-test: FAIL: $*" >&2; exit 1; }

# a brand-new system's / is 0755; fresh-debian's chroot root is a mktemp -d (0700), where no
# system user (ringedge, man-db's "man") could reach any file: give it the normal mode
if [ "$(stat -c %a /)" != 755 ]; then
	echo "install-test: / is mode $(stat -c %a /) (a chroot made by mktemp?); setting 0755" >&2
	chmod 755 /
fi

# ---- 1. install ----
# Depends only: Recommends (logrotate -> cron -> an MTA) bring exim4, whose postinst fails in
# a chroot without a host name
apt-get update -qq
apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "$deb" \
	>/tmp/install-test.apt 2>&1 ||
	{ cat /tmp/install-test.apt; fail "apt-get install $deb"; }
step "apt-get install ./$(basename "$deb")"
closure=$(apt-cache depends --recurse --installed --no-recommends --no-suggests --no-conflicts \
	--no-breaks --no-replaces --no-enhances ringedge | grep -v '^ ' | sort -u)
for bin in /usr/sbin/ringedge /usr/bin/ringbench; do
	[ -x "$bin" ] || fail "$bin not installed"
	! ldd "$bin" | grep -q 'not found' || fail "$bin: $(ldd "$bin" | grep 'not found')"
	! ldd "$bin" | grep -qi wolfssl || fail "$bin links a shared wolfSSL (must be static)"
	for lib in $(ldd "$bin" | awk '$3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		real=$(readlink -f "$lib")
		pkg=$(dpkg -S "$lib" 2>/dev/null || dpkg -S "$real" 2>/dev/null || true)
		pkg=${pkg%%:*}
		[ -n "$pkg" ] || fail "$bin loads $lib, which no package owns"
		grep -qx "$pkg" <<<"$closure" || fail "$bin loads $lib of $pkg, not in the Depends closure"
	done
done
step "binaries: libraries all from the Depends closure"

# ---- 2. configuration, user, unit ----
getent passwd ringedge >/dev/null || fail "no ringedge user"
[ "$(getent passwd ringedge | cut -d: -f7)" = /usr/sbin/nologin ] || fail "ringedge user has a shell"
conf=/etc/ringedge/ringedge.ini
grep -qx "$conf" /var/lib/dpkg/info/ringedge.conffiles || fail "$conf is not a conffile"
out=$(ringedge -t -c "$conf" 2>&1) || fail "ringedge -t as root: $out"
[ "$out" = "configuration ok" ] || fail "ringedge -t said: $out"
out=$(runuser -u ringedge -- ringedge -t -c "$conf" 2>&1) || fail "ringedge -t as ringedge: $out"
[ "$(stat -c %U:%G:%a /etc/ringedge/edge.key)" = root:ringedge:640 ] ||
	fail "edge.key is $(stat -c %U:%G:%a /etc/ringedge/edge.key)"
[ "$(stat -c %U:%a /var/log/ringedge)" = ringedge:750 ] || fail "/var/log/ringedge owner/mode"
[ "$(stat -c %U:%a /var/lib/ringedge)" = ringedge:750 ] || fail "/var/lib/ringedge owner/mode"
for m in ringedge.8 ringedge.ini.5 ringbench.1; do
	[ -f "/usr/share/man/man${m##*.}/$m.gz" ] || fail "man page $m missing"
done
[ -f /usr/lib/tmpfiles.d/ringedge.conf ] && [ -f /etc/logrotate.d/ringedge ] &&
	[ -f /etc/default/ringedge ] && [ -f /lib/systemd/system/ringedge.service ] ||
	fail "tmpfiles, logrotate, default or unit file missing"
step "ringedge -t ok (root and ringedge); user, files, modes"
if [ $short = 0 ]; then
	apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends systemd man-db \
		>/tmp/install-test.apt 2>&1 || { cat /tmp/install-test.apt; fail "apt-get install systemd"; }
	mandb -q 2>/dev/null || true
	out=$(systemd-analyze verify /lib/systemd/system/ringedge.service 2>&1) ||
		fail "systemd-analyze verify: $out"
	[ -z "$out" ] || fail "systemd-analyze verify is not clean: $out"
	step "systemd-analyze verify ringedge.service: clean"
fi

# ---- 3. start as the unit would, serve ----
apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends curl iproute2 \
	>/tmp/install-test.apt 2>&1 || { cat /tmp/install-test.apt; fail "apt-get install curl"; }
log=$(mktemp)
chmod 644 "$log"
unshare --net bash -euo pipefail -c '
	conf=$1 log=$2
	ip link set lo up
	# ringedge.service: User=ringedge, AmbientCapabilities=CAP_NET_BIND_SERVICE,
	# CapabilityBoundingSet=CAP_NET_BIND_SERVICE, NoNewPrivileges=yes
	setpriv --reuid=ringedge --regid=ringedge --init-groups --no-new-privs \
		--inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service \
		--bounding-set=-all,+net_bind_service -- /usr/sbin/ringedge -c "$conf" 2>"$log" &
	pid=$!
	for _ in $(seq 100); do
		grep -q "serving" "$log" && break
		kill -0 $pid 2>/dev/null || { cat "$log"; echo "ringedge exited" >&2; exit 1; }
		sleep 0.1
	done
	uid=$(awk "/^Uid:/ { print \$2 }" /proc/$pid/status)
	[ "$uid" = "$(id -u ringedge)" ] || { echo "runs as uid $uid" >&2; exit 1; }
	capeff=$(awk "/^CapEff:/ { print \$2 }" /proc/$pid/status)
	[ "$capeff" = 0000000000000400 ] || { echo "CapEff $capeff" >&2; exit 1; }
	code=$(curl -sS -o /dev/null -w "%{http_code} %{redirect_url}" -H "Host: meet.contoso.com" \
		http://127.0.0.1/meet/x)
	[ "$code" = "301 https://meet.contoso.com/meet/x" ] || { echo "port 80: $code" >&2; exit 1; }
	code=$(curl -sS -k -o /dev/null -w "%{http_code} %{ssl_verify_result}" \
		--resolve webext.contoso.com:443:127.0.0.1 https://webext.contoso.com/not-a-vdir)
	[ "${code%% *}" = 404 ] || { echo "port 443: $code" >&2; exit 1; }
	issuer=$(curl -sS -k -v --resolve webext.contoso.com:443:127.0.0.1 \
		https://webext.contoso.com/x 2>&1 | grep -i "issuer:" || true)
	echo "$issuer" | grep -q "webext.contoso.com" || { echo "certificate: $issuer" >&2; exit 1; }
	kill -HUP $pid
	for _ in $(seq 100); do grep -q "reload: generation 2 serving" "$log" && break; sleep 0.1; done
	grep -q "reload: generation 2 serving" "$log" || { cat "$log"; echo "no reload" >&2; exit 1; }
	kill -TERM $pid
	wait $pid || { cat "$log"; echo "exit status $?" >&2; exit 1; }
' install-test "$conf" "$log" || { cat "$log"; fail "serving as the ringedge user"; }
grep -q "running as\|serving" "$log" || fail "no serving line"
rm -f "$log"
step "served as user ringedge (80: 301, 443: TLS 404), reload, stop"

# ---- 4. purge ----
apt-get purge -y -qq ringedge >/tmp/install-test.apt 2>&1 ||
	{ cat /tmp/install-test.apt; fail "apt-get purge"; }
for f in /usr/sbin/ringedge /usr/bin/ringbench /etc/ringedge /etc/default/ringedge \
	 /etc/logrotate.d/ringedge /lib/systemd/system/ringedge.service \
	 /usr/lib/tmpfiles.d/ringedge.conf /var/log/ringedge /var/lib/ringedge /usr/share/doc/ringedge; do
	[ ! -e "$f" ] || fail "$f is still there after purge"
done
! dpkg -l ringedge 2>/dev/null | grep -q '^[ir]' || fail "dpkg still lists ringedge"
step "apt-get purge: files, configuration, certificate, logs gone"
echo "install-test: PASS (the ringedge system user stays, as Debian leaves system users)"
