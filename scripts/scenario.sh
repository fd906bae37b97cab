#!/bin/bash
# The scale-out scenarios (test/scenario/): network namespaces, real balancers (HAProxy in
# mode tcp, nftables jhash DNAT), two ringedge instances, SIGKILL of one under load. Needs
# root. RINGEDGE_SCENARIO_SECONDS sets the load of each scenario (default 8: the CI form,
# about 80 s in all on the shared 2-core machine; use 60 for a longer run); the figures go to
# stdout and, with RINGEDGE_SCENARIO_REPORT=FILE, as JSON lines to FILE.
# Usage: scripts/scenario.sh [BUILD_DIR] [pytest args...]
set -uo pipefail
cd "$(dirname "$0")/.."
b=${1:-build}
shift || true
export RINGEDGE_SCENARIO_SECONDS=${RINGEDGE_SCENARIO_SECONDS:-8}
RINGEDGE_BUILD="$(pwd)/$b" exec /usr/bin/python3 -m pytest -q -s -p no:cacheprovider "$@" \
	test/scenario
