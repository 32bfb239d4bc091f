#!/usr/bin/env bash
# Benchmark: the authorities are overloaded. A flood of unique names (every one a cache miss
# needing one query to the alpha.test. servers) offered faster than those servers can answer:
# both alpha.test. NSD processes share LEAF_CPU % of one core (default 20 %), so they queue
# and drop what they cannot answer, as a leaf server under a deploy storm does. tern, then
# Unbound, in the same invocation, each with its own fresh hierarchy (see flood.sh and lib.sh).
#
#   bash tests/bench/overload.sh [RATE] [SECS]      defaults: 20000 q/s offered, 10 s
#   LEAF_CPU=10 bash tests/bench/overload.sh        a slower leaf
#
# What to read in flood.sh's table: answ/s (what the leaf let through), NOERR% of the queries
# sent (dnsperf keeps at most 1000 outstanding, so what the leaf cannot answer waits in dnsperf
# or in the resolver: a resolver that gives up on the leaf shows SRVFL%), up/q = upstream UDP
# packets per query sent (≈ 1 when every miss costs one query), and the RSS columns.
# The issue's targets: NOERROR ≥ 99 %, answered/s ≥ Unbound's, upstream queries per miss ≤ 1.2,
# RSS level.
set -euo pipefail
export LEAF_CPU=${LEAF_CPU:-20}
exec bash "$(dirname "$0")/flood.sh" "${1:-20000}" "${2:-10}"
