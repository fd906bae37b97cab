#!/bin/bash
# The main job, from a fresh Debian 12 (as root): set up, build, and run an edge with demo
# backends on loopback — the Lync topology of config/lync-edge.ini mapped by config/demo.ini:
#   webext pool     two nginx servers (stand-ins for Front End external web services)
#   webext-http     the test echo backend (lyncdiscover over port 80)
#   owas            the test echo backend (Office Web Apps: shows the target byte-exact)
# plus, added at run time with a freshly generated CA and SAN certificate, a TLS listener
# (the 443 role) bridged to the same nginx servers over TLS (the 4443 role). It shows routing
# with curl, runs short ringbench loads through the edge (plain and TLS), and stops the edge
# gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/setup.sh build

echo
echo "=== ringedge --version"
build/core/ringedge --version
echo
echo "=== crypto of the linked wolfSSL (bench/crypto)"
build/bench/crypto

run=$(mktemp -d /tmp/ringedge-demo.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	[ -f "$run/nginx.pid" ] && kill "$(cat "$run/nginx.pid")" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$run"
}
trap cleanup EXIT

# --- certificates: a demo CA, the edge's SAN certificate, the Front Ends' certificate --------
pki=$run/pki
mkdir -p "$pki"
(
	cd "$pki"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=ringedge demo CA" -keyout ca.key -out ca.pem
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=webext.contoso.com" \
		-keyout edge.key -out edge.csr
	printf 'subjectAltName=DNS:webext.contoso.com,DNS:meet.contoso.com,DNS:dialin.contoso.com,DNS:lyncdiscover.contoso.com,DNS:owa.contoso.com,IP:127.0.0.1\n' >edge.ext
	openssl x509 -req -in edge.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile edge.ext -out edge.pem
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=webext-int.contoso.local" \
		-keyout fe.key -out fe.csr
	printf 'subjectAltName=DNS:webext-int.contoso.local\n' >fe.ext
	openssl x509 -req -in fe.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
		-extfile fe.ext -out fe.pem
) >/dev/null 2>&1

# --- demo backends --------------------------------------------------------------------
mkdir -p "$run/nginx/logs"
cat >"$run/nginx/nginx.conf" <<NGX
worker_processes 1;
pid $run/nginx.pid;
error_log $run/nginx/logs/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 100000;
	server { listen 127.0.0.1:18401; location / { add_header X-Served-By fe01; return 200 "fe01: \$request_uri\n"; } }
	server { listen 127.0.0.1:18402; location / { add_header X-Served-By fe02; return 200 "fe02: \$request_uri\n"; } }
	ssl_certificate $run/pki/fe.pem;
	ssl_certificate_key $run/pki/fe.key;
	server { listen 127.0.0.1:18411 ssl; location / { add_header X-Served-By fe01-tls; return 200 "fe01 over TLS: \$request_uri\n"; } }
	server { listen 127.0.0.1:18412 ssl; location / { add_header X-Served-By fe02-tls; return 200 "fe02 over TLS: \$request_uri\n"; } }
}
NGX
nginx -p "$run/nginx" -c "$run/nginx/nginx.conf"
/usr/bin/python3 test/integration/backend.py --port 18403 --name webext-http >/dev/null 2>&1 &
pids+=($!)
/usr/bin/python3 test/integration/backend.py --port 18404 --name owas >/dev/null 2>&1 &
pids+=($!)

# --- the edge ---------------------------------------------------------------------------
sed "s|^access_log = stderr|access_log = $run/access.log|" config/demo.ini >"$run/demo.ini"
cat >>"$run/demo.ini" <<INI

; --- added by scripts/demo.sh: the 443 role, bridged over TLS to the 4443 role -----------
[tls]
certificate = $pki/edge.pem
private_key = $pki/edge.key

[listener web-tls]
bind = 127.0.0.1:18443
tls = on

[pool webext-tls]
server = 127.0.0.1:18411
server = 127.0.0.1:18412
tls = on
ca = $pki/ca.pem
sni = webext-int.contoso.local

[route tls-webext]
listeners = web-tls
host = webext.contoso.com
path = /
pool = webext-tls

[route tls-meet]
listeners = web-tls
host = meet.contoso.com
pool = webext-tls
INI
build/core/ringedge -t -c "$run/demo.ini"
build/core/ringedge -c "$run/demo.ini" 2>"$run/error.log" &
edge=$!
pids+=($edge)
for _ in $(seq 50); do
	curl -s -o /dev/null http://127.0.0.1:18080/ 2>/dev/null && curl -s -o /dev/null \
		http://127.0.0.1:18404/ 2>/dev/null && break
	sleep 0.1
done

show() {	# description, curl arguments...
	local what=$1
	shift
	printf '\n--- %s\n$ curl %s\n' "$what" "$*"
	curl -sS -i --max-time 5 "$@" | tr -d '\r' | grep -E '^(HTTP/|Location|X-Served-By)|^fe0|"target"|"host"' || true
}
echo
echo "=== routing by host + virtual directory (listener web = 127.0.0.1:18080)"
show "meeting join goes to the Front End pool" -H 'Host: webext.contoso.com' http://127.0.0.1:18080/meet/alice/ABC123
show "vDir match is case-insensitive" -H 'Host: WebExt.Contoso.com' http://127.0.0.1:18080/Meet/x
show "and on whole segments only: /meetings is not /meet" -H 'Host: webext.contoso.com' http://127.0.0.1:18080/meetings
show "round robin: the next request goes to the other server" -H 'Host: meet.contoso.com' http://127.0.0.1:18080/
show "Office Web Apps: the target reaches the backend byte-exact (%252F stays)" -H 'Host: owa.contoso.com' 'http://127.0.0.1:18080/op/view.aspx?src=https%253A%252F%252Fx%252Fa%252Fb.docx'
show "unknown host: 404" -H 'Host: www.example.org' http://127.0.0.1:18080/
echo
echo "=== the 443 role: TLS terminated at the edge, re-originated to the Front Ends (18443 -> 18411/18412)"
show "TLS both sides, certificate checked with the demo CA" --cacert "$pki/ca.pem" \
	--resolve webext.contoso.com:18443:127.0.0.1 https://webext.contoso.com:18443/ucwa/v1/applications
printf '\n--- the certificate the edge presented\n'
openssl s_client -connect 127.0.0.1:18443 -servername meet.contoso.com -CAfile "$pki/ca.pem" \
	</dev/null 2>/dev/null | grep -E "^(subject|issuer)=|Verify return code|Protocol *:|Cipher *:" || true
echo
echo "=== port 80 role (listener discover = 127.0.0.1:18081)"
show "mobile autodiscover over plain HTTP" -H 'Host: lyncdiscover.contoso.com' http://127.0.0.1:18081/
show "anything else is redirected to https" -H 'Host: webext.contoso.com' http://127.0.0.1:18081/ucwa/v1/x

echo
echo "=== ringbench: 5 s closed loop, 50 keep-alive connections, small responses from nginx"
build/bench/ringbench -q -c 50 -d 5s -H 'Host: meet.contoso.com' http://127.0.0.1:18080/ || true

echo
echo "=== ringbench: 5 s closed loop over TLS keep-alive, bridged to TLS"
build/bench/ringbench -q -c 50 -d 5s --cacert "$pki/ca.pem" -H 'Host: meet.contoso.com' \
	https://127.0.0.1:18443/ 2>&1 || true

echo
echo "=== graceful stop (SIGTERM)"
kill -TERM "$edge"
rc=0
wait "$edge" || rc=$?
echo "ringedge exited with status $rc"
echo "access log: $(wc -l <"$run/access.log") lines; the last one:"
tail -1 "$run/access.log"
[ "$rc" = 0 ]
