#!/usr/bin/env bash
# Benchmark: throughput at saturation and latency percentiles, tern beside its peers and the
# kernel floor, from one invocation.
#
#   bash tests/bench/saturation.sh [SECS]          default: 10 s per run
#
# The targets of hits.sh (lib_hits.sh: echo, tern and Unbound answering cache hits, tern
# --no-recursion and NSD answering from 4 zones), each in a fresh namespace, warmed, the server
# on CPU 1 and dnsperf on CPU 0. Two runs per target, both without a rate limit:
#   1. dnsperf -s 127.0.0.53 -d FILE -c 10 -q 200 -T 1 -l SECS          -> queries/s
#   2. the same with -v (every answer's rcode and latency printed)      -> latency percentiles
# Percentiles come from run 2's per-query lines (p50, p90, p99, p99.9, max; timed-out queries
# are counted as lost, not in the percentiles). The dnsperf here (2.10) has no
# `-O latency-histogram` (`dnsperf -H` lists none); when a dnsperf that has it is installed the
# -v run is still used, so the numbers stay comparable. Printing every answer can slow dnsperf
# (measured against udp_echo: no change on a quiet machine, a third less while a build ran
# beside it), so run 2's q/s is printed beside its percentiles; run 1's q/s is the throughput.
#
# On 2 cores one dnsperf thread tops out near 150k q/s: when CPU 0 (dnsperf) is at 100 % and
# CPU 1 (the server) is not, the load generator is the limit, not the server; the CPU columns
# say which (server CPU: the server's own utime+stime over the run's wall time).
#
# Knobs (environment): see lib.sh (PIN, TERN_BIN, BUILD, KEEP_STATE, TERN_CACHE_MAX_BYTES), and
# TARGETS="echo tern unbound tern-auth nsd".
# Needs root, cc, dnsperf, nsd, unbound, dig, iproute2, iptables, taskset, ss, python3 >= 3.11.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/bench/lib_hits.sh
source "$BENCH_DIR/lib_hits.sh"

SECS=${1:-10}
[[ $SECS =~ ^[1-9][0-9]*$ ]] || die "usage: saturation.sh [SECS] (a positive integer)"
read -r -a TARGET_LIST <<<"${TARGETS:-$ALL_TARGETS}"

bench_require cc dnsperf nsd unbound dig iptables ip taskset ss timeout
bench_init
bench_tern_binary
hits_build_echo
hits_questions

PERF=(dnsperf -s "$RESOLVER_ADDR" -c 10 -q 200 -T 1 -l "$SECS")
echo "saturation.sh: ${PERF[*]} -d FILE, $SECS s per run, then the same with -v for the latency percentiles"
echo "$(dnsperf -h 2>&1 | awk '/^Version/ { print "dnsperf " $2; exit }'); tern $TERN_DESC; $(unbound -V | head -1) (1 thread); NSD $(nsd -v 2>&1 | head -1 | awk '{ print $3 }'); kernel $(uname -r)"
[ "$PIN" = 1 ] || echo "pinning: off"

one_run() { # out-file [extra dnsperf args]: runs dnsperf, prints "server_cpu_ticks"
    local out=$1 c0 c1
    shift
    c0=$(cpu_ticks_of "${SERVER_PIDS[@]}")
    # shellcheck disable=SC2046
    nsx $(pin_aux) timeout -k 5 $((SECS + 30)) "${PERF[@]}" -d "$TARGET_QFILE" "$@" >"$out" 2>&1 ||
        log "warning: dnsperf exited non-zero ($out)"
    c1=$(cpu_ticks_of "${SERVER_PIDS[@]}")
    echo $((c1 - c0))
}

ROWS=()
NOTES=()
for t in "${TARGET_LIST[@]}"; do
    target_start "$t" sat
    noise=$(noise_check)
    cpu_jiffies >"$RUN_DIR/cpu.before"
    ticks=$(one_run "$RUN_DIR/dnsperf.out")
    cpu_jiffies >"$RUN_DIR/cpu.after"
    busy=$(cpu_busy "$RUN_DIR/cpu.before" "$RUN_DIR/cpu.after")
    one_run "$RUN_DIR/dnsperf.v" -v >/dev/null
    alive=yes
    kill -0 "$RES_PID" 2>/dev/null || alive="NO (exited during the runs)"
    stop_resolver

    p=$RUN_DIR/dnsperf.out
    sent=$(perf_field "$p" "Queries sent")
    if [ -z "$sent" ] || [ "$sent" = 0 ]; then
        cat "$p" >&2
        die "dnsperf sent nothing to $t"
    fi
    answered=$(perf_field "$p" "Queries completed")
    lost=$(perf_field "$p" "Queries lost")
    qps=$(perf_field "$p" "Queries per second")
    runtime=$(perf_field "$p" "Run time (s)")
    latency=$(perf_field "$p" "Average Latency (s)")
    read -r p50 p90 p99 p999 pmax <<<"$(latency_percentiles "$RUN_DIR/dnsperf.v")"
    vqps=$(perf_field "$RUN_DIR/dnsperf.v" "Queries per second")
    vlost=$(perf_field "$RUN_DIR/dnsperf.v" "Queries lost")
    ROWS+=("$(awk -v t="$t" -v s="$sent" -v a="$answered" -v l="$lost" -v q="$qps" -v lat="$latency" \
        -v ticks="$ticks" -v hz="$HZ" -v rt="$runtime" -v busy="$busy" -v vq="$vqps" \
        -v p50="$p50" -v p90="$p90" -v p99="$p99" -v p999="$p999" -v pmax="$pmax" 'BEGIN {
            split(busy, b, /[ ,%]+/)
            printf "%-10s %9d %7d %9.0f %6.0f%% %6.2f %6s%% %7.3f | %8.0f %7s %7s %7s %7s %7s",
                t, s, l, q, (rt > 0 ? 100 * ticks / hz / rt : 0), (a > 0 ? 1e6 * ticks / hz / a : 0), b[2],
                1000 * lat, vq, p50, p90, p99, p999, pmax }')")
    NOTES+=("$TARGET_DESC")
    NOTES+=("  answered $answered of $sent in run 1; $vlost lost in the -v run; CPUs busy in run 1: $busy; alive after the runs: $alive; $(warm_summary)")
    if [ "$t" = tern ] || [ "$t" = tern-auth ]; then
        NOTES+=("  tern counters (whole life): $(tern_counters)")
    fi
    [ -z "$noise" ] || NOTES+=("${noise/   /  }")
    run_teardown
done

echo
printf '%-10s %9s %7s %9s %7s %6s %7s %7s | %8s %7s %7s %7s %7s %7s\n' server sent lost "q/s" "srvCPU" "µs/q" "CPU0" "lat ms" \
    "q/s(-v)" "p50 ms" "p90" "p99" "p99.9" "max"
printf '%s\n' "${ROWS[@]}"
echo
echo "q/s, srvCPU (the server's CPU time / wall time), µs/q (its CPU time / answers), CPU0 (dnsperf's core)"
echo "and lat (mean) from run 1;"
echo "percentiles from the -v run (dnsperf slowed by printing: its q/s beside them)."
printf '%s\n' "${NOTES[@]}"
