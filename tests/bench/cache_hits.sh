#!/usr/bin/env bash
# Benchmark: server CPU per cache-hit query, tern vs Unbound, at a fixed offered rate.
#
# Both resolvers walk the simulated internet (`tern lab` on 127.0.0.x:53); the query mix is
# warmed into both caches first, then dnsperf offers RATE queries/s for SECS seconds to each in
# turn. Each server is pinned to one core with taskset and its user+sys CPU time is read from
# /proc/PID/stat before and after (see ../shared/PEERS.md: throughput alone cannot separate
# fast servers on 2 cores). Needs root (port 53 on loopback aliases), dnsperf and unbound.
#
#   bash tests/bench/cache_hits.sh [RATE] [SECS]
set -euo pipefail
cd "$(dirname "$0")/../.."
RATE=${1:-20000}
SECS=${2:-10}
STATE=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$STATE"
}
trap cleanup EXIT

cargo build --release -q
TERN=target/release/tern

# The simulated internet plus tern's resolver on 127.0.0.1:5300, tern pinned to CPU 0.
taskset -c 0 "$TERN" lab --log-level error >"$STATE/lab.out" 2>&1 &
PIDS+=($!)
TERN_PID=$!

cat >"$STATE/unbound.conf" <<CONF
server:
  interface: 127.0.0.1
  port: 5301
  do-ip6: no
  username: ""
  chroot: ""
  directory: "$STATE"
  pidfile: "$STATE/unbound.pid"
  root-hints: "$PWD/zones/hierarchy/root.hints"
  module-config: "iterator"
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  local-zone: "test." nodefault
  local-zone: "example." nodefault
  discard-timeout: 0
  qname-minimisation: yes
  num-threads: 1
  verbosity: 0
remote-control:
  control-enable: no
CONF
taskset -c 0 unbound -d -c "$STATE/unbound.conf" >"$STATE/unbound.out" 2>&1 &
PIDS+=($!)
UNBOUND_PID=$!

cat >"$STATE/queries" <<Q
www.alpha.test A
www.alpha.test AAAA
mail.alpha.test A
alpha.test MX
cname-cross.alpha.test A
www.beta.example A
www.glueless.test A
host.deep.alpha.test A
nope.alpha.test A
www.alpha.test MX
Q

wait_ready() { # port
    for _ in $(seq 1 50); do
        dig @127.0.0.1 -p "$1" +time=1 +tries=1 www.alpha.test A >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "server on port $1 did not come up" >&2
    exit 1
}
cpu_ticks() { # pid -> utime+stime in clock ticks
    awk '{print $14 + $15}' "/proc/$1/stat"
}

wait_ready 5300
wait_ready 5301
# Warm both caches (every name of the mix, twice).
for port in 5300 5301; do
    dnsperf -s 127.0.0.1 -p "$port" -d "$STATE/queries" -n 2 >/dev/null
done

HZ=$(getconf CLK_TCK)
run() { # name port pid
    local before after
    before=$(cpu_ticks "$3")
    taskset -c 1 dnsperf -s 127.0.0.1 -p "$2" -d "$STATE/queries" -l "$SECS" -Q "$RATE" -c 4 >"$STATE/$1.perf"
    after=$(cpu_ticks "$3")
    local completed
    completed=$(awk '/Queries completed:/ {print $3}' "$STATE/$1.perf")
    awk -v n="$1" -v t=$((after - before)) -v hz="$HZ" -v q="$completed" -v lost="$(awk '/Queries lost:/ {print $3}' "$STATE/$1.perf")" \
        'BEGIN { printf "%-8s %9d queries, %6d lost, CPU %.2f s, %.2f us CPU per query\n", n, q, lost, t/hz, (t/hz)/q*1e6 }'
}
echo "offered: $RATE q/s for $SECS s, cache hits only, server pinned to CPU 0, dnsperf on CPU 1"
run tern 5300 "$TERN_PID"
run unbound 5301 "$UNBOUND_PID"
