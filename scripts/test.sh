#!/bin/bash
# Sets up everything on a fresh Debian 12 (as root) and runs every test:
#   1. unit tests (meson test) and integration tests (pytest, real binary) on the normal build,
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer,
#   3. the scale-out scenarios in network namespaces, short form (scripts/scenario.sh),
#   4. each libFuzzer target over its committed corpus for FUZZ_SECONDS (default 20).
# Ends with one line "N passed, N failed[, N skipped]"; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
setup_failed=0

step() { printf '\n=== %s\n' "$*" >&2; }

step "setup: packages, fast wolfSSL, build"
scripts/setup.sh build || setup_failed=$((setup_failed + 1))
step "setup: sanitizer build (address, undefined)"
scripts/setup.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false ||
	setup_failed=$((setup_failed + 1))
step "setup: fuzz build (clang, libFuzzer)"
CC=clang scripts/setup.sh build-fuzz -Dfuzz=true || setup_failed=$((setup_failed + 1))

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

run_suites() {	# build dir, label
	local b=$1 label=$2
	if [ ! -f "$b/build.ninja" ]; then
		echo "$label: no build" >&2
		return
	fi
	step "$label: unit tests (meson test)"
	meson test -C "$b" --print-errorlogs >&2
	cp "$b/meson-logs/testlog.json" "$results/meson-$label.json" 2>/dev/null
	step "$label: integration tests (pytest)"
	RINGEDGE_BUILD="$root/$b" /usr/bin/python3 -m pytest -q -p no:cacheprovider \
		--junitxml="$results/pytest-$label.xml" test/integration >&2
}

run_suites build normal
run_suites build-asan asan

step "scenarios: network namespaces, L4 balancers (short form, ~80 s)"
scripts/scenario.sh build --junitxml="$results/pytest-scenario.xml" >&2

step "fuzz: ${FUZZ_SECONDS}s per target"
for f in build-fuzz/test/fuzz/fuzz_*; do
	[ -f "$f" ] && [ -x "$f" ] || continue
	name=$(basename "$f")
	corpus=test/fuzz/corpus/${name#fuzz_}
	work=$(mktemp -d)
	# fuzz into a scratch copy: the committed corpus stays small and reviewed
	cp -r "$corpus"/. "$work"/ 2>/dev/null
	if "$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
	     -artifact_prefix="$results/$name-" "$work" >"$results/$name.log" 2>&1; then
		echo "ok" >"$results/fuzz-$name.result"
		echo "fuzz $name: ok ($(grep -o 'stat::number_of_executed_units: [0-9]*' \
			"$results/$name.log" | tail -1 || true))" >&2
		tail -1 "$results/$name.log" >&2
	else
		echo "fail" >"$results/fuzz-$name.result"
		echo "fuzz $name: FAILED" >&2
		tail -40 "$results/$name.log" >&2
	fi
	rm -rf "$work"
done

step "summary"
/usr/bin/python3 - "$results" "$setup_failed" <<'PY'
import glob, json, os, sys
import xml.etree.ElementTree as ET
d, setup_failed = sys.argv[1], int(sys.argv[2])
passed = failed = skipped = 0
for f in sorted(glob.glob(os.path.join(d, "meson-*.json"))):
    p = fl = s = 0
    for line in open(f):
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"): p += 1
        elif r == "SKIP": s += 1
        else: fl += 1
    print(f"{os.path.basename(f)}: {p} passed, {fl} failed, {s} skipped", file=sys.stderr)
    passed += p; failed += fl; skipped += s
for f in sorted(glob.glob(os.path.join(d, "pytest-*.xml"))):
    root = ET.parse(f).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    t = sum(int(x.get("tests", 0)) for x in suites)
    fl = sum(int(x.get("failures", 0)) + int(x.get("errors", 0)) for x in suites)
    s = sum(int(x.get("skipped", 0)) for x in suites)
    print(f"{os.path.basename(f)}: {t - fl - s} passed, {fl} failed, {s} skipped", file=sys.stderr)
    passed += t - fl - s; failed += fl; skipped += s
for f in sorted(glob.glob(os.path.join(d, "fuzz-*.result"))):
    if open(f).read().strip() == "ok": passed += 1
    else: failed += 1
failed += setup_failed
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed or passed == 0 else 0)
PY
