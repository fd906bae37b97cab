#!/bin/bash
# The main job, from a fresh Debian 12 (as root): set up, build, and show ringedge working.
# Today (before the data plane lands) it builds everything, prints what ringedge was built
# with, measures the linked crypto, checks and prints the demo configuration (the Lync
# topology on loopback) and measures the routing table.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build

echo
echo "=== ringedge --version"
build/core/ringedge --version
echo
echo "=== crypto of the linked wolfSSL (bench/crypto)"
build/bench/crypto
echo
echo "=== ringedge -T -c config/demo.ini (checked, with every default)"
build/core/ringedge -T -c config/demo.ini
if [ -x build/bench/trie_bench ]; then
	echo
	echo "=== routing table lookups (bench/trie_bench)"
	build/bench/trie_bench
fi
