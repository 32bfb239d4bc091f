#!/usr/bin/env bash
# Benchmark: user-space instructions per cache miss, tern vs Unbound, counted by callgrind.
#
#   bash tests/bench/miss_instructions.sh [N]        N unique names (default 2000)
#
# Each resolver runs under `valgrind --tool=callgrind` in its own network namespace with the
# NSD hierarchy of lib.sh. After two warm-up queries (the delegation to alpha.test. is then
# cached) the counters are zeroed, N unique names u<i>.wild.alpha.test A are asked at a slow
# 400 q/s (every one a cache miss answered by one upstream query), and the counters are dumped:
# instructions / N is what one miss costs in user space. Instruction counts do not depend on
# the machine's load, so this is the number to compare before and after a change; kernel time
# (sockets, sends) is not in it (see flood.sh for CPU seconds). valgrind counts each iteration
# of a `rep stos` as an instruction, so large memsets weigh more here than in real time.
# Needs what lib.sh needs, plus valgrind and dnsperf.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"

N=${1:-2000}
[[ $N =~ ^[1-9][0-9]*$ ]] || die "usage: miss_instructions.sh [N]"
read -r -a RESOLVER_LIST <<<"${RESOLVERS:-tern unbound}"

bench_require dnsperf nsd unbound dig iptables ip taskset ss timeout valgrind callgrind_control
bench_init
bench_tern_binary

awk -v n="$N" 'BEGIN { for (i = 1; i <= n; i++) printf "u%d.wild.alpha.test A\n", i }' >"$STATE/names"
echo "miss_instructions.sh: $N unique names u<i>.wild.alpha.test A at 400 q/s, each resolver under callgrind"
echo "tern $TERN_DESC; $(unbound -V | head -1) (1 thread)"

for res in "${RESOLVER_LIST[@]}"; do
    run_begin "cg-$res"
    nsd_start
    RES_WRAP="valgrind --tool=callgrind --callgrind-out-file=$RUN_DIR/callgrind.out" start_resolver "$res"
    for q in www.alpha.test u0.wild.alpha.test; do
        # shellcheck disable=SC2046
        nsx $(pin_aux) dig @"$RESOLVER_ADDR" +time=5 +tries=2 +short "$q" A >/dev/null || true
    done
    callgrind_control -z "$RES_PID" >/dev/null 2>&1
    # shellcheck disable=SC2046
    nsx $(pin_aux) timeout -k 5 $((N / 400 + 60)) dnsperf -s "$RESOLVER_ADDR" -d "$STATE/names" -n 1 \
        -Q 400 -c 5 -q 50 -t 5 >"$RUN_DIR/dnsperf.out" 2>&1 || log "warning: dnsperf exited non-zero for $res"
    callgrind_control -d "$RES_PID" >/dev/null 2>&1
    sleep 1
    completed=$(awk '/Queries completed:/ { print $3 }' "$RUN_DIR/dnsperf.out")
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$RUN_DIR/callgrind.out.1" 2>/dev/null || echo 0)
    stop_resolver
    run_teardown
    awk -v r="$res" -v ir="$ir" -v n="$N" -v c="$completed" \
        'BEGIN { printf "%-8s %9.0f instructions per miss (%d of %d answered)\n", r, ir / n, c, n }'
done
