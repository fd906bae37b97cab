#!/bin/bash
# CPU per request of ringedge on a route WITHOUT the auth guard, with the guard on another
# route of the same listener ("on") vs no guard anywhere ("off") (issue 12: a feature that is
# off, or on elsewhere, must not cost the other routes). docs/auth-guard.md has the figures.
#
#   bench/guard_cpu.sh [ROUNDS [REQUESTS]]      (defaults 3, 50000)
#
# Backend: nginx (1 worker, a 100-byte file); ringedge with 1 worker; ringbench -c 20 on
# /pub/100.txt; per run a 2,000-request warm-up, then REQUESTS measured; ringedge's utime +
# stime (/proc/PID/stat, all threads) before/after, divided by the requests. Runs alternate
# off/on inside each round, each on a fresh ringedge. Ports 28180-28181; files in a temp dir.
set -euo pipefail
rounds=${1:-3} n=${2:-50000}
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=${RINGEDGE:-$repo/build/core/ringedge}
rb=${RINGBENCH:-$repo/build/bench/ringbench}
dir=$(mktemp -d /tmp/guard-cpu.XXXXXX)
chmod 755 "$dir"	# nginx workers run as nobody
p=""
mkdir -p "$dir/html/pub"
head -c 100 /dev/zero | tr '\0' x >"$dir/html/pub/100.txt"
cat >"$dir/nginx.conf" <<NGX
worker_processes 1; daemon off; pid $dir/nginx.pid; error_log $dir/nginx.err;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:28180; root $dir/html; } }
NGX
nginx -p "$dir" -c "$dir/nginx.conf" & ngx=$!
trap 'kill $ngx ${p:-} 2>/dev/null; rm -rf "$dir"' EXIT
for mode in off on; do
	cat >"$dir/$mode.ini" <<INI
[global]
workers = 1
access_log = off
[auth_guard]
min_answer_time = 500ms
[listener l]
bind = 127.0.0.1:28181
[pool be]
server = 127.0.0.1:28180
[route auth]
path = /WebTicket
pool = be
auth_guard = $mode
[route pub]
path = /pub
pool = be
INI
done
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sleep 0.5
for r in $(seq "$rounds"); do
	for mode in off on; do
		"$bin" -c "$dir/$mode.ini" 2>"$dir/re.err" & p=$!
		for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/28181) 2>/dev/null && break; sleep 0.1; done
		"$rb" -q -c 20 -n 2000 http://127.0.0.1:28181/pub/100.txt >/dev/null
		c0=$(cpu $p)
		"$rb" -q -c 20 -n "$n" http://127.0.0.1:28181/pub/100.txt >/dev/null
		c1=$(cpu $p)
		kill $p; wait $p || true
		p=""
		awk -v r="$r" -v m="$mode" -v c=$((c1 - c0)) -v t="$tck" -v n="$n" \
		    'BEGIN { printf "round %d guard %-3s %6.2f us CPU per request\n", r, m, c/t/n*1e6 }'
	done
done
