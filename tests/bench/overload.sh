#!/usr/bin/env bash
# Benchmark: the authorities are overloaded. A flood of unique names (every one a cache miss
# needing one query to the alpha.test. servers) offered faster than those servers can answer:
# the two alpha.test. servers together take LEAF_RATE queries a second (default 8000, a token
# bucket of 200) and drop the rest on arrival, as a server whose queue is full does; their NSD
# processes also share LEAF_CPU % of one core (default 20), so replies queue as on a busy
# server. tern, then Unbound, in the same invocation, each with its own fresh hierarchy (see
# flood.sh and lib.sh for the knobs).
#
#   bash tests/bench/overload.sh [RATE] [SECS]      defaults: 20000 q/s offered, 10 s
#   LEAF_RATE=4000 bash tests/bench/overload.sh     a slower leaf
#
# What to read in flood.sh's table: answ/s (what the leaf let through), NOERR% of the queries
# sent (dnsperf keeps at most 1000 outstanding, so what the leaf cannot answer waits in dnsperf
# or in the resolver: a resolver that gives up on the leaf shows SRVFL%), up/q = upstream UDP
# packets per query sent (≈ 1 when every miss costs one query), and the RSS columns.
# The issue's targets: NOERROR ≥ 99 %, answered/s ≥ Unbound's, upstream queries per miss ≤ 1.2,
# RSS level.
set -euo pipefail
export LEAF_CPU=${LEAF_CPU:-20} LEAF_RATE=${LEAF_RATE:-8000}
exec bash "$(dirname "$0")/flood.sh" "${1:-20000}" "${2:-10}"
