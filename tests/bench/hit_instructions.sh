#!/usr/bin/env bash
# Benchmark: user-space instructions per cache hit, tern vs Unbound, counted by callgrind.
#
#   bash tests/bench/hit_instructions.sh [N]        N hits (default 6000)
#
# Each resolver runs under `valgrind --tool=callgrind` in its own network namespace with the
# NSD hierarchy of lib.sh (as miss_instructions.sh does for misses). The 60 questions of the
# recursive set of hits.sh (lib_hits.sh) are asked twice and once more one at a time (the
# warm-up of hits.sh, so the cache holds every answer and tern's hit path has kept them), the
# counters are zeroed (`callgrind_control -z`), then N questions cycling through the same 60
# are asked at a slow 500 q/s (every one a hit), and the counters are dumped: instructions / N
# is what one hit costs in user space, the noise-free number to compare before and after a
# change. Kernel time (the socket calls) is not in it: hits.sh has the CPU seconds, the kernel
# included. Upstream packets during the counted part are printed (0: every answer was a hit).
# At 500 q/s nearly every datagram wakes the server alone, so what a wake-up costs (Unbound's
# event loop, the socket calls' setup) is part of each hit; a higher RATE (the knob below) lets
# tern's recvmmsg batches and Unbound's loop take several datagrams per wake-up.
# Knobs (environment): see lib.sh, and RESOLVERS="tern unbound", RATE=500 (q/s).
# Needs what lib.sh needs, plus valgrind (callgrind_control) and dnsperf.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/bench/lib_hits.sh
source "$BENCH_DIR/lib_hits.sh"

N=${1:-6000}
[[ $N =~ ^[1-9][0-9]*$ ]] || die "usage: hit_instructions.sh [N]"
RATE=${RATE:-500}
[[ $RATE =~ ^[1-9][0-9]*$ ]] || die "RATE must be a positive integer"
read -r -a RESOLVER_LIST <<<"${RESOLVERS:-tern unbound}"

bench_require dnsperf nsd unbound dig iptables ip taskset ss timeout valgrind callgrind_control
bench_init
bench_tern_binary
hits_questions
awk -v n="$N" '{ q[NR] = $0 } END { for (i = 0; i < n; i++) print q[i % NR + 1] }' "$STATE/rec.queries" >"$STATE/hits"
echo "hit_instructions.sh: $N questions cycling through the 60 of the recursive set, at $RATE q/s, each resolver under callgrind"
echo "tern $TERN_DESC; $(unbound -V | head -1) (1 thread)"

for res in "${RESOLVER_LIST[@]}"; do
    case $res in tern | unbound) ;; *) die "unknown resolver $res (tern or unbound)" ;; esac
    RES_WRAP="valgrind --tool=callgrind --callgrind-out-file=$STATE/cg-$res.out" target_start "$res" cg
    callgrind_control -z "$RES_PID" >/dev/null 2>&1
    upstream_zero
    # shellcheck disable=SC2046
    nsx $(pin_aux) timeout -k 5 $((N / RATE + 60)) dnsperf -s "$RESOLVER_ADDR" -d "$STATE/hits" -n 1 \
        -Q "$RATE" -c 5 -q 50 -t 5 >"$RUN_DIR/dnsperf.out" 2>&1 || log "warning: dnsperf exited non-zero for $res"
    callgrind_control -d "$RES_PID" >/dev/null 2>&1
    sleep 1
    read -r up_udp _ <<<"$(upstream_read)"
    completed=$(awk '/Queries completed:/ { print $3 }' "$RUN_DIR/dnsperf.out")
    ir=$(awk '/^(summary|totals):/ { print $2; exit }' "$STATE/cg-$res.out.1" 2>/dev/null || echo 0)
    stop_resolver
    counters=""
    if [ "$res" = tern ]; then counters="; tern counters: $(tern_counters | tr ' ' '\n' | grep -E '^(queries|cache_hits|fast_hits|cache_misses)=' | paste -sd' ' -)"; fi
    run_teardown
    awk -v r="$res" -v ir="$ir" -v n="$N" -v c="$completed" -v up="$up_udp" -v more="$counters" \
        'BEGIN { printf "%-8s %9.0f instructions per hit (%d of %d answered, %d upstream packets%s)\n", r, ir / n, c, n, up, more }'
done
