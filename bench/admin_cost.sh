#!/bin/bash
# CPU per request of ringedge with the admin listener off vs on and scraped every second
# (/metrics, issue 11). Alternated runs, the proxy's own accounting.
#
#   bench/admin_cost.sh [-n ROUNDS] [-d SECS] [-b BUILD]
#
# Load: a 100-byte keep-alive response from an nginx backend (1 worker); backend and
# `ringbench -c 50` on CPU 0, ringedge (1 worker) alone on CPU 1. Per run: a 2 s warm-up, then
# a timed run; ringedge's utime+stime (/proc/PID/stat, every thread, admin thread included)
# before and after, divided by the requests ringbench counted. "on": [admin] listen set and a
# curl scrape of /metrics every second during the run. ROUNDS rounds of off, on.
# Prints one line per run and a summary (mean and spread of us/request per mode).
# Files go to ${ADMIN_COST_DIR:-/tmp/admin-cost}; ports 28180-28182.
set -euo pipefail

rounds=5 secs=10 build=build
while getopts "n:d:b:" o; do
	case $o in
	n) rounds=$OPTARG ;;
	d) secs=$OPTARG ;;
	b) build=$OPTARG ;;
	*) exit 2 ;;
	esac
done
repo=$(cd "$(dirname "$0")/.." && pwd)
bin=$repo/$build/core/ringedge
rb=$repo/$build/bench/ringbench
dir=${ADMIN_COST_DIR:-/tmp/admin-cost}
mkdir -p "$dir/html"
head -c 100 /dev/zero | tr '\0' x >"$dir/html/100.txt"
tck=$(getconf CLK_TCK)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

cat >"$dir/backend.conf" <<EOC
worker_processes 1; master_process off; daemon off; pid $dir/backend.pid;
error_log $dir/backend-error.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_timeout 300s; keepalive_requests 1000000;
       server { listen 127.0.0.1:28180; root $dir/html; } }
EOC
taskset -c 0 nginx -c "$dir/backend.conf" -p "$dir" 2>/dev/null &
pids+=($!)
sleep 0.5

conf() {	# $1 = off | on
	cat <<EOC
[global]
workers = 1
access_log = off
log_level = warn
[listener l]
bind = 127.0.0.1:28181
[pool p]
server = 127.0.0.1:28180
keepalive = 64
[route r]
pool = p
EOC
	[ "$1" = on ] && printf '[admin]\nlisten = 127.0.0.1:28182\n'
	return 0
}

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

run() {		# $1 = off | on; prints "mode us_per_request requests"
	local mode=$1 rp sp=0 t0 t1 out n
	conf "$mode" >"$dir/$mode.ini"
	taskset -c 1 "$bin" -c "$dir/$mode.ini" 2>"$dir/$mode.err" &
	rp=$!
	for _ in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:28181/100.txt && break; sleep 0.1; done
	taskset -c 0 "$rb" -q -c 50 -d 2s http://127.0.0.1:28181/100.txt >/dev/null
	if [ "$mode" = on ]; then
		(while :; do curl -s -o /dev/null http://127.0.0.1:28182/metrics; sleep 1; done) &
		sp=$!
	fi
	t0=$(cpu_ticks $rp)
	out=$(taskset -c 0 "$rb" -q --json -c 50 -d "${secs}s" http://127.0.0.1:28181/100.txt)
	t1=$(cpu_ticks $rp)
	[ "$sp" != 0 ] && kill "$sp" && wait "$sp" 2>/dev/null || true
	kill "$rp"; wait "$rp" || true
	n=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
	python3 -c "print('$mode %.3f %d' % (($t1 - $t0) * 1e6 / $tck / $n, $n))"
}

for r in $(seq "$rounds"); do
	run off
	run on
done | tee "$dir/runs.txt"
python3 - "$dir/runs.txt" <<'EOP'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    mode, us, n = line.split()
    runs.setdefault(mode, []).append(float(us))
for mode in ("off", "on"):
    v = runs[mode]
    print("%-3s us/request: mean %.3f  min %.3f  max %.3f  (%d runs)" % (
        mode, statistics.mean(v), min(v), max(v), len(v)))
d = statistics.mean(runs["on"]) / statistics.mean(runs["off"]) - 1
print("on vs off: %+.1f %%" % (d * 100))
EOP
