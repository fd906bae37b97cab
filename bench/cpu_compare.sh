#!/bin/bash
# Where the proxy CPU per request goes: ringedge vs nginx vs HAProxy vs a bare relay (the floor).
#
#   bench/cpu_compare.sh [-n ROUNDS] [-d SECS] [-s] TARGET...
#
# TARGET: nginx | haproxy | ringedge[=BINARY] (default build-cpu/core/ringedge; several
# ringedge=... targets may be given, named re0, re1, ...) | relay-uring | relay-uring-pf | relay-uring-ms |
# relay-epoll | direct
# (wrk straight at the backend: no proxy).
#
# Load: a 100-byte keep-alive response from an nginx backend (1 worker); backend and
# `wrk -t1 -c50` on CPU 0, the proxy alone on CPU 1. Per run: a 2 s warm-up, then a timed run;
# the proxy's utime and stime (/proc/PID/stat, every thread) before and after, divided by the
# requests wrk counted. ROUNDS rounds, targets alternating inside each round.
#
# -s: instead of timing, one `strace -c -f` of the proxy during a 3 s wrk run, printed as
# syscalls per request (strace slows the proxy; the counts per request are what matter). For
# ringedge targets also a run without strace on a fresh instance: io_uring_enter calls and
# completions per request from the worker's exit log line (strace makes each enter slow, so
# more completions pile up per enter under strace than without it).
#
# Files go to ${CPU_DIR:-/tmp/cpu-compare}; ports 28080-28099. Needs nginx, haproxy, wrk, cc, liburing.
set -euo pipefail

rounds=3 secs=10 trace=0
while getopts "n:d:s" o; do
	case $o in
	n) rounds=$OPTARG ;;
	d) secs=$OPTARG ;;
	s) trace=1 ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- nginx haproxy ringedge relay-uring relay-epoll
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=${CPU_DIR:-/tmp/cpu-compare}
mkdir -p "$dir/html"
head -c 100 /dev/zero | tr '\0' x >"$dir/html/100.txt"
tck=$(getconf CLK_TCK)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

cat >"$dir/backend.conf" <<EOF
worker_processes 1; master_process off; daemon off; pid $dir/backend.pid;
error_log $dir/backend-error.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_timeout 300s; keepalive_requests 1000000;
       server { listen 127.0.0.1:28080; root $dir/html; } }
EOF
cat >"$dir/nginx.conf" <<EOF
worker_processes 1; master_process off; daemon off; pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_timeout 120s; keepalive_requests 1000000;
       proxy_http_version 1.1; proxy_set_header Connection "";
       upstream be { server 127.0.0.1:28080; keepalive 64; keepalive_requests 1000000; }
       server { listen 127.0.0.1:28081; location / { proxy_pass http://be; } } }
EOF
cat >"$dir/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 120s
    timeout server 60s
frontend fe
    bind 127.0.0.1:28082
    default_backend be
backend be
    server s1 127.0.0.1:28080
EOF
cat >"$dir/ringedge.ini" <<EOF
[global]
workers = 1
access_log = off
log_level = warn

[listener l]
bind = 127.0.0.1:28083

[pool p]
server = 127.0.0.1:28080
keepalive = 64

[route r]
pool = p
EOF
cc -O2 -o "$dir/cpu_relay" "$repo/bench/cpu_relay.c" -luring

taskset -c 0 nginx -p "$dir" -c "$dir/backend.conf" & pids+=($!)

# start NAME: starts the proxy for target NAME on CPU 1; prints "pid port"
declare -A pid_of port_of bin_of
i=0
for t in "$@"; do
	bin=""
	case $t in
	nginx) taskset -c 1 nginx -p "$dir" -c "$dir/nginx.conf" & p=$!; port=28081 ;;
	haproxy) taskset -c 1 haproxy -db -f "$dir/haproxy.cfg" & p=$!; port=28082 ;;
	ringedge*)
		bin=${t#ringedge=}; [ "$bin" != "$t" ] || bin=$repo/build-cpu/core/ringedge
		port=$((28090 + i))
		sed "s/28083/$port/" "$dir/ringedge.ini" >"$dir/re$i.ini"
		taskset -c 1 "$bin" -c "$dir/re$i.ini" & p=$!
		t=re$i; i=$((i + 1)) ;;
	relay-uring) taskset -c 1 "$dir/cpu_relay" uring 28084 28080 & p=$!; port=28084 ;;
	relay-epoll) taskset -c 1 "$dir/cpu_relay" epoll 28085 28080 & p=$!; port=28085 ;;
	relay-uring-pf) taskset -c 1 "$dir/cpu_relay" uring-pf 28086 28080 & p=$!; port=28086 ;;
	relay-uring-ms) taskset -c 1 "$dir/cpu_relay" uring-ms 28087 28080 & p=$!; port=28087 ;;
	direct) p=${pids[0]}; port=28080 ;;	# CPU is then the backend's
	*) echo "unknown target $t" >&2; exit 2 ;;
	esac
	[ "$t" = direct ] || pids+=($p)
	bin_of[$t]=${bin:-}
	pid_of[$t]=$p; port_of[$t]=$port; names+=("$t")
done
sleep 1

cpu() { awk '{print $14, $15}' "/proc/$1/stat"; }	# utime stime, ticks
# rescheduling + function-call IPIs received by CPU 0 and CPU 1 (whole machine)
ipis() { awk '/^ *(RES|CAL):/ { a += $2; b += $3 } END { print a, b }' /proc/interrupts; }
# TCP segments sent (whole machine, all loopback here)
segs() { awk '/^Tcp:/ { if (h) print $12; h = 1 }' /proc/net/snmp; }

one_run() {	# NAME: prints NAME req/s user_us sys_us total_us (per request)
	local n=$1 p=${pid_of[$1]} port=${port_of[$1]} out u0 s0 u1 s1 reqs rps a0 b0 a1 b1 g0 g1
	taskset -c 0 wrk -t1 -c50 -d2s "http://127.0.0.1:$port/100.txt" >/dev/null
	[ -z "$p" ] || read -r u0 s0 < <(cpu "$p")
	read -r a0 b0 < <(ipis)
	g0=$(segs)
	out=$(taskset -c 0 wrk -t1 -c50 -d"${secs}s" "http://127.0.0.1:$port/100.txt")
	read -r a1 b1 < <(ipis)
	g1=$(segs)
	[ -z "$p" ] || read -r u1 s1 < <(cpu "$p")
	if echo "$out" | grep -qE "Non-2xx|Socket errors"; then
		echo "$n: wrk reported errors:" >&2; echo "$out" >&2
	fi
	reqs=$(echo "$out" | awk '/requests in/{print $1}')
	rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
	[ -n "$p" ] || { u0=0 s0=0 u1=0 s1=0; }
	awk -v n="$n" -v r="$reqs" -v rps="$rps" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v t="$tck" \
	    -v i0=$((a1 - a0)) -v i1=$((b1 - b0)) -v sg=$((g1 - g0)) \
	    'BEGIN { printf "%-12s %8.0f req/s  user %5.2f  sys %5.2f  total %5.2f us/req" \
		     "  IPIs/req cpu0 %.2f cpu1 %.2f  TCP segs/req %.2f\n",
		     n, rps, u/t/r*1e6, s/t/r*1e6, (u+s)/t/r*1e6, i0/r, i1/r, sg/r }'
}

trace_run() {	# NAME: syscalls per request under strace -c -f
	local n=$1 p=${pid_of[$1]} port=${port_of[$1]} out reqs
	[ -n "$p" ] || return 0
	taskset -c 0 wrk -t1 -c50 -d1s "http://127.0.0.1:$port/100.txt" >/dev/null
	strace -c -f -p "$p" -o "$dir/strace-$n.txt" & local sp=$!
	sleep 1
	out=$(taskset -c 0 wrk -t1 -c50 -d3s "http://127.0.0.1:$port/100.txt")
	sleep 0.5
	kill -INT $sp; wait $sp 2>/dev/null || true
	reqs=$(echo "$out" | awk '/requests in/{print $1}')
	echo "== $n: $reqs requests under strace; calls per request:"
	awk -v r="$reqs" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $4 + 0 > 0 {
		printf "  %-22s %8.3f\n", $NF, $4 / r }' "$dir/strace-$n.txt"
}

enter_run() {	# NAME (ringedge): enters and completions per request, no strace
	local n=$1 ini=$dir/enter.ini out reqs p
	sed -e "s/28083/28098/" -e "s/log_level = warn/log_level = info/" "$dir/ringedge.ini" >"$ini"
	taskset -c 1 "${bin_of[$n]}" -c "$ini" 2>"$dir/enter-$n.log" & p=$!
	sleep 0.5
	out=$(taskset -c 0 wrk -t1 -c50 -d"${secs}s" "http://127.0.0.1:28098/100.txt")
	kill "$p"; wait "$p" || true
	reqs=$(echo "$out" | awk '/requests in/{print $1}')
	awk -v r="$reqs" -v n="$n" '/io_uring_enter calls/ { for (i = 1; i <= NF; i++) {
		if ($(i+1) == "io_uring_enter") e = $i; if ($(i+1) == "completions") c = $i }
		printf "== %s without strace: %d requests, %.3f io_uring_enter and %.3f " \
		       "completions per request (%.1f per enter)\n", n, r, e / r, c / r, c / e }' \
		"$dir/enter-$n.log"
}

if [ $trace = 1 ]; then
	for n in "${names[@]}"; do trace_run "$n"; done
	for n in "${names[@]}"; do [ -z "${bin_of[$n]:-}" ] || enter_run "$n"; done
	exit 0
fi
for ((r = 1; r <= rounds; r++)); do
	for n in "${names[@]}"; do one_run "$n"; done
done
