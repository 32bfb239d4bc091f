#!/usr/bin/env bash
# Benchmark: the first second after a restart under steady load, without and with
# [cache] persist.
#
#   bash tests/bench/persist.sh [RATE] [SECS]          defaults: 2000 q/s for 12 s
#
# For each mode (off, on), in its own fresh network namespace (lib.sh: the NSD hierarchy of
# zones/hierarchy/, tern on 127.0.0.53:53, tern pinned to CPU 1 and the rest to CPU 0):
#   1. tern starts with a control socket (mode on: and [cache] persist = FILE); the 60 popular
#      questions of lib_hits.sh are asked twice each (the cache is warm);
#   2. dnsperf offers a steady RATE q/s of those questions for SECS seconds
#        dnsperf -s 127.0.0.53 -d FILE -Q RATE -c 10 -q 200 -t 1 -l SECS
#   3. a third of the way in, tern is restarted (SIGTERM, which writes FILE in mode on; then
#      started again, which reads it) while the load goes on;
#   4. one second after its UDP socket is back (the new process's counters cover exactly that
#      second, less what wait_listening's 100 ms polling adds), `tern ctl stats` gives the hit
#      ratio: cache_hits / (cache_hits + cache_misses), hits counting the hit path's and the
#      full path's answers from the cache, misses the questions that waited for upstream; the
#      iptables counters of lib.sh give the packets sent upstream in that second.
# One row per mode (entries: the cache's size at that second), then dnsperf's totals for the whole run (queries lost while tern was down).
#
# Knobs (environment): lib.sh's (PIN, TERN_BIN, BUILD, KEEP_STATE, TERN_CACHE_MAX_BYTES).
# Needs root, dnsperf, nsd, dig, iproute2, iptables, taskset, ss, timeout, python3 >= 3.11.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/bench/lib_hits.sh
source "$BENCH_DIR/lib_hits.sh"

RATE=${1:-2000}
SECS=${2:-12}
for v in "$RATE" "$SECS"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "usage: persist.sh [RATE] [SECS] (positive integers)"
done
[ "$SECS" -ge 6 ] || die "SECS must be at least 6 (restart a third in, then one second measured)"

bench_require dnsperf nsd dig iptables ip taskset ss timeout
bench_init
bench_tern_binary
hits_questions
QFILE=$STATE/rec.queries

MODE=off
# Appends to tern's config (lib.sh's tern_config, whose last table is [cache]): the cache file
# in mode on, then the control socket.
configure() { # conf
    if ! grep -q '^\[cache\]' "$1"; then echo "[cache]" >>"$1"; fi
    if [ "$MODE" = on ]; then echo "persist = \"$RUN_DIR/cache.bin\"" >>"$1"; fi
    printf '[control]\nsocket = "%s"\n' "$RUN_DIR/ctl.sock" >>"$1"
}

stat_of() { # stats-file name -> value (0 when absent)
    awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }' "$1"
}

echo "persist.sh: $RATE q/s of the 60 popular questions for $SECS s, tern restarted at $((SECS / 3)) s"
echo "tern $TERN_DESC; kernel $(uname -r)"
[ "$PIN" = 1 ] || echo "pinning: off"
printf '%-5s %10s %10s %10s %10s %10s %10s\n' mode queries hits misses hit-ratio upstream entries
NOTES=()
for MODE in off on; do
    run_begin "persist-$MODE"
    nsd_start
    start_resolver tern
    restart_resolver_edited tern configure
    # Warm: every question twice, one at a time.
    nsx dnsperf -s "$RESOLVER_ADDR" -d "$QFILE" -n 2 -c 1 -q 1 -t 2 >"$RUN_DIR/warm.out" 2>&1 ||
        log "warning: the warm-up dnsperf exited non-zero ($MODE)"
    # shellcheck disable=SC2046
    nsx $(pin_aux) timeout -k 5 $((SECS + 30)) dnsperf -s "$RESOLVER_ADDR" -d "$QFILE" \
        -Q "$RATE" -c 10 -q 200 -t 1 -l "$SECS" >"$RUN_DIR/dnsperf.out" 2>&1 &
    LOAD_PID=$!
    RUN_PIDS+=("$LOAD_PID")
    sleep $((SECS / 3))
    restart_resolver_edited tern true
    upstream_zero
    sleep 1
    stats=$RUN_DIR/stats.after1s
    "$TERN" ctl --socket "$RUN_DIR/ctl.sock" stats >"$stats" 2>"$RUN_DIR/ctl.err" ||
        log "warning: tern ctl stats failed ($MODE): $(cat "$RUN_DIR/ctl.err")"
    read -r up_udp up_syn <<<"$(upstream_read)"
    hits=$(stat_of "$stats" cache_hits)
    misses=$(stat_of "$stats" cache_misses)
    ratio=$(awk -v h="$hits" -v m="$misses" 'BEGIN { printf (h + m > 0 ? "%.3f" : "-"), h / (h + m + (h + m == 0)) }')
    printf '%-5s %10s %10s %10s %10s %10s %10s\n' "$MODE" "$(stat_of "$stats" queries)" \
        "$hits" "$misses" "$ratio" "$((up_udp + up_syn))" "$(stat_of "$stats" cache_entries)"
    for ((i = 0; i < SECS + 30; i++)); do
        kill -0 "$LOAD_PID" 2>/dev/null || break
        sleep 1
    done
    p=$RUN_DIR/dnsperf.out
    NOTES+=("$MODE: dnsperf sent $(perf_field "$p" "Queries sent"), completed $(perf_field "$p" "Queries completed"), lost $(perf_field "$p" "Queries lost") (the restart's gap)")
    run_teardown
done
echo
printf '%s\n' "${NOTES[@]}"
