#!/bin/sh
# No arrow runs upward (issue 10, docs/internals.md): tls/, config/ and routing/ include nothing
# from core/ except the base library core/lib/, and core/lib/ includes nothing but libc (and its
# own headers). Prints every offending line and fails if there is one.
#
#   test/unit/layout_test.sh SOURCE_ROOT
set -eu
cd "${1:?usage: layout_test.sh SOURCE_ROOT}"

# Files allowed to break the rule for now, one path per line. Remove a line as soon as the file
# is fixed, and this variable once it is empty.
# - tls/xprt_tls.h includes core/xprt-t.h: the transport interface moves with the stream split.
EXCEPT='tls/xprt_tls.h'

# after grep -n: "LINE:" then the directive
inc='^[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]'
bad=0

# 1. lower layers: no core/ header but core/lib/
lower=$(find tls config routing -path tls/wolfssl -prune -o -type f \( -name '*.c' -o -name '*.h' \) \
	-print | sort)
for f in $lower; do
	if printf '%s\n' "$EXCEPT" | grep -qxF "$f"; then
		continue
	fi
	# "core/lib/../x.h" would climb out of core/lib/: no ".." in these includes at all
	if grep -nE "#" "$f" | grep -E "${inc}" | grep -E "${inc}core/|\.\./" |
	    grep -vE "${inc}core/lib/[^.]*\.h[\">]" | sed "s|^|$f:|" | grep .; then
		bad=1
	fi
done

# 2. core/lib/: only system headers (<...>) and core/lib/ itself
for f in $(find core/lib -type f \( -name '*.c' -o -name '*.h' \) | sort); do
	if grep -nE "#" "$f" | grep -E "${inc}" |
	    grep -vE "${inc}core/lib/[^.]*\.h\"|^[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*<" |
	    sed "s|^|$f:|" | grep .; then
		bad=1
	fi
done

if [ "$bad" -ne 0 ]; then
	echo "layout: the lines above include a layer above their own (see test/unit/layout_test.sh)" >&2
	exit 1
fi
echo "layout: ok"
