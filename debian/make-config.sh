#!/bin/sh
# debian/make-config.sh LYNC_INI: prints /etc/ringedge/ringedge.ini, the Lync example
# (config/lync-edge.ini) made to pass `ringedge -t` on the machine it is installed on:
#  - the contoso internal hosts, which resolve nowhere else, become documentation addresses
#    (RFC 5737 192.0.2.0/24) with the host they stand for in a comment;
#  - the pools' CA, contoso's internal root, becomes Debian's CA bundle (ca-certificates);
#  - the certificate and key stay /etc/ringedge/edge.pem and edge.key: postinst creates a
#    self-signed pair for the example's names when there is none.
# test/integration/test_package.py checks the result with `ringedge -t`.
set -eu
cat <<'HEAD'
; /etc/ringedge/ringedge.ini: installed by the ringedge package (a conffile: your edits stay
; across upgrades). Check it with `ringedge -t -c /etc/ringedge/ringedge.ini` (as the ringedge
; user, e.g. `runuser -u ringedge -- ringedge -t ...`: a log file -t creates as root would not
; be writable by the service), apply it with `systemctl reload ringedge`. Reference:
; ringedge.ini(5). The original example: /usr/share/doc/ringedge/examples/lync-edge.ini.
;
; Before serving, replace:
;  - /etc/ringedge/edge.pem, edge.key: the package generated a SELF-SIGNED stand-in; put your
;    SAN certificate (chain) and its key there (key: root:ringedge, mode 0640);
;  - the 192.0.2.x server addresses (documentation addresses, they reach nothing) with your
;    Front End pool and Office Web Apps servers (the comment names the role of each);
;  - ca = /etc/ssl/certs/ca-certificates.crt with your internal root CA (contoso-root.pem).
;
HEAD
sed -e 's/^\(server = \)fe01\.contoso\.local\(:[0-9]*\)/\1192.0.2.11\2   ; fe01.contoso.local (Front End)/' \
    -e 's/^\(server = \)fe02\.contoso\.local\(:[0-9]*\)/\1192.0.2.12\2   ; fe02.contoso.local (Front End)/' \
    -e 's/^\(server = \)owas01\.contoso\.local\(:[0-9]*\)/\1192.0.2.21\2  ; owas01.contoso.local (Office Web Apps)/' \
    -e 's/^\(server = \)owas02\.contoso\.local\(:[0-9]*\)/\1192.0.2.22\2  ; owas02.contoso.local (Office Web Apps)/' \
    -e 's|^ca = /etc/ringedge/contoso-root.pem$|ca = /etc/ssl/certs/ca-certificates.crt   ; your internal root CA: contoso-root.pem|' \
    "$1"
