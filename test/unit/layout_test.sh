#!/bin/sh
# Layout (issue 10, docs/internals.md). No arrow runs upward: tls/, config/ and routing/
# include nothing from core/ except the base library core/lib/, and core/lib/ includes nothing
# but libc (and its own headers). No core/ source file is over 1,000 lines. Prints every
# offending line and fails if there is one.
#
#   test/unit/layout_test.sh SOURCE_ROOT
set -eu
cd "${1:?usage: layout_test.sh SOURCE_ROOT}"

# after grep -n: "LINE:" then the directive
inc='^[0-9]+:[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]'
bad=0

# 1. lower layers: no core/ header but core/lib/
lower=$(find tls config routing -path tls/wolfssl -prune -o -type f \( -name '*.c' -o -name '*.h' \) \
	-print | sort)
for f in $lower; do
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

# 3. size (issue 10): no .c file in core/, at any depth, over 1,000 lines; split it by role.
# Files allowed over it for now, one path per line; remove a line as soon as the file is split.
BIG=''
for f in $(find core -type f -name '*.c' | sort); do
	if printf '%s\n' "$BIG" | grep -qxF "$f"; then
		continue
	fi
	n=$(wc -l < "$f")
	if [ "$n" -gt 1000 ]; then
		echo "$f: $n lines; a core/ source file has at most 1000 (split it by role)" >&2
		bad=1
	fi
done
if [ "$bad" -ne 0 ]; then
	exit 1
fi
echo "layout: ok"
