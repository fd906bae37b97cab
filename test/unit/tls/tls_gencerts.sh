#!/bin/sh
# Generates the TLS unit tests' throw-away PKI into directory $1 (test-only keys, never
# committed): a root CA and an intermediate, leaves signed by the intermediate (chain files
# = leaf + intermediate), a second unrelated CA, and leaves with past/future validity made
# with `openssl ca -startdate/-enddate` (Debian 12's OpenSSL 3.0 x509 has no -not_before).
set -eu
d=$1
cd "$d"
q() { "$@" >/dev/null 2>&1 || { echo "tls_gencerts: failed: $*" >&2; "$@"; exit 1; }; }

rsa() { q openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }
ec()  { q openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

ca_conf() {	# $1 = CA name: writes $1.cnf for `openssl ca`
	mkdir -p "$1.db"; : > "$1.db/index.txt"; echo 1000 > "$1.db/serial"
	cat > "$1.cnf" <<CNF
[ca]
default_ca = this
[this]
dir = $d/$1.db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
certificate = $d/$1.pem
private_key = $d/$1.key
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
email_in_dn = no
[any]
commonName = supplied
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
[inter]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
CNF
}

root() {	# $1 = name, $2 = CN
	rsa "$1.key"
	q openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 3650 -subj "/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
	ca_conf "$1"
}

# leaf CA NAME KEYTYPE SANS [openssl ca date options...]
leaf() {
	ca=$1 name=$2 kt=$3 sans=$4
	shift 4
	$kt "$name.key"
	q openssl req -new -key "$name.key" -out "$name.csr" -subj "/CN=${sans%%,*}" \
		-addext "subjectAltName=$(echo "$sans" | tr ',' '\n' | sed '/^IP:/!s/^/DNS:/' | paste -sd, -)"
	q openssl ca -batch -notext -config "$ca.cnf" -extensions leaf -in "$name.csr" \
		-out "$name.crt" "$@"
	cat "$name.crt" "$ca.pem" > "$name.pem"	# leaf + intermediate
}

root ca "ringedge test root CA"
root ca2 "unrelated test CA"

rsa inter.key
q openssl req -new -key inter.key -out inter.csr -subj "/CN=ringedge test intermediate"
q openssl ca -batch -notext -config ca.cnf -extensions inter -in inter.csr -out inter.pem -days 3650
ca_conf inter

leaf inter lync rsa "webext.contoso.com,meet.contoso.com,dialin.contoso.com,lyncdiscover.contoso.com" -days 365
leaf inter wild ec "*.contoso.com" -days 365
leaf inter bench ec "bench.example" -days 365
leaf inter expired rsa "old.contoso.com" -startdate 20200101000000Z -enddate 20210101000000Z
leaf inter soon ec "soon.contoso.com" -days 5
leaf inter future ec "future.contoso.com" -startdate 20990101000000Z -enddate 20991231000000Z
leaf ca2 other rsa "meet.contoso.com" -days 365
# IP-address SANs (RFC 6125): the edge addressed by IP, a backend pool named by IP
leaf inter ipsan ec "ip.contoso.com,IP:127.0.0.1,IP:::1,IP:192.0.2.10" -days 365
leaf ca2 ipevil ec "ip.contoso.com,IP:127.0.0.1" -days 365
echo ok
