#!/usr/bin/env bash
# Benchmark: server CPU per answered query at a fixed offered rate, tern beside its peers and
# the kernel floor, from one invocation.
#
#   bash tests/bench/hits.sh [RATE] [SECS]          defaults: 30000 q/s for 10 s
#
# Five targets, each in its own fresh network namespace on 127.0.0.53:53 (see lib_hits.sh),
# pinned to CPU 1 with dnsperf (and the NSD hierarchy) on CPU 0:
#   echo        udp_echo.c (recvfrom, QR bit, sendto): what the kernel's UDP path costs alone
#   tern        recursive cache hits (the hit path), over the NSD hierarchy of lib.sh
#   unbound     Unbound 1.17, one thread, the same hits
#   tern-auth   tern serve --no-recursion, 4 zones of zones/hierarchy/
#   nsd         NSD 4.6, server-count 1, rrl-ratelimit 0, the same 4 zones
# The recursive targets get the 60 questions of questions.txt that stay cached (lib_hits.sh says
# which are left out and why), the authoritative ones the 46 of auth_questions.txt. Each target
# is warmed (every question twice, then once more one at a time to record the rcodes), then
#   dnsperf -s 127.0.0.53 -d FILE -Q RATE -c 10 -q 200 -T 1 -l SECS
# offers the load while the server's user+sys CPU time is read from /proc/PID/stat before and
# after (all threads; for NSD every process holding the socket, found with ss).
# One row per target: sent, answered, lost, server CPU seconds, CPU µs per answered query, mean
# latency. Then notes: rcodes, upstream packets during the run (iptables counters: 0 means every
# answer was a hit), tern's counters (fast_hits: answered by the hit path), the CPUs' load.
#
# Knobs (environment): see lib.sh (PIN, NSD_RRL, TERN_BIN, BUILD, KEEP_STATE, TERN_CACHE_MAX_BYTES),
# TERN_SERVER, UNBOUND_THREADS, NSD_SERVERS (lib_hits.sh: e.g. TERN_SERVER="busy_poll_us = 50"),
# TARGETS="echo tern unbound tern-auth nsd" (a subset, in any order), and REPEAT=N: N rounds
# through the targets, interleaved, then each target's median µs/query (the CPU time per query
# of every server moves together by up to ~20 % between runs on this VM: compare within a run).
# Needs root, cc, dnsperf, nsd, unbound, dig, iproute2, iptables, taskset, ss, python3 >= 3.11.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/bench/lib_hits.sh
source "$BENCH_DIR/lib_hits.sh"

RATE=${1:-30000}
SECS=${2:-10}
for v in "$RATE" "$SECS"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "usage: hits.sh [RATE] [SECS] (positive integers)"
done
read -r -a TARGET_LIST <<<"${TARGETS:-$ALL_TARGETS}"
REPEAT=${REPEAT:-1}
[[ $REPEAT =~ ^[1-9][0-9]?$ ]] || die "REPEAT must be 1..99"

bench_require cc dnsperf nsd unbound dig iptables ip taskset ss timeout
bench_init
bench_tern_binary
hits_build_echo
hits_questions

echo "hits.sh: $RATE q/s offered for $SECS s to each target; server on CPU 1, dnsperf on CPU 0"
echo "dnsperf -s $RESOLVER_ADDR -d FILE -Q $RATE -c 10 -q 200 -T 1 -l $SECS ($(dnsperf -h 2>&1 | awk '/^Version/ { print "dnsperf " $2; exit }'))"
echo "tern $TERN_DESC; $(unbound -V | head -1) (1 thread); NSD $(nsd -v 2>&1 | head -1 | awk '{ print $3 }'); kernel $(uname -r)"
[ "$PIN" = 1 ] || echo "pinning: off"
[ -z "${TERN_SERVER:-}" ] || echo "tern [server]: $TERN_SERVER"

ROWS=()
NOTES=()
for ((r = 1; r <= REPEAT; r++)); do
    for t in "${TARGET_LIST[@]}"; do
        label=$t
        if [ "$REPEAT" -gt 1 ]; then label="$t#$r"; fi
        target_start "$t" "hits$r"
        noise=$(noise_check)
        upstream_zero
        c0=$(cpu_ticks_of "${SERVER_PIDS[@]}")
        cpu_jiffies >"$RUN_DIR/cpu.before"
        # shellcheck disable=SC2046
        nsx $(pin_aux) timeout -k 5 $((SECS + 30)) dnsperf -s "$RESOLVER_ADDR" -d "$TARGET_QFILE" \
            -Q "$RATE" -c 10 -q 200 -T 1 -l "$SECS" >"$RUN_DIR/dnsperf.out" 2>&1 ||
            log "warning: dnsperf exited non-zero for $t"
        c1=$(cpu_ticks_of "${SERVER_PIDS[@]}")
        cpu_jiffies >"$RUN_DIR/cpu.after"
        read -r up_udp up_syn <<<"$(upstream_read)"
        alive=yes
        kill -0 "$RES_PID" 2>/dev/null || alive="NO (exited during the run)"
        stop_resolver

        p=$RUN_DIR/dnsperf.out
        sent=$(perf_field "$p" "Queries sent")
        if [ -z "$sent" ] || [ "$sent" = 0 ]; then
            cat "$p" >&2
            die "dnsperf sent nothing to $t"
        fi
        answered=$(perf_field "$p" "Queries completed")
        lost=$(perf_field "$p" "Queries lost")
        latency=$(perf_field "$p" "Average Latency (s)")
        ROWS+=("$(awk -v t="$label" -v s="$sent" -v a="$answered" -v l="$lost" -v ticks=$((c1 - c0)) -v hz="$HZ" \
            -v lat="$latency" 'BEGIN {
                cpu = ticks / hz
                printf "%-11s %9d %9d %7d %7.2f %9.2f %9.3f", t, s, a, l, cpu, (a > 0 ? 1e6 * cpu / a : 0), 1000 * lat }')")
        NOTES+=("${TARGET_DESC/#$t/$label}")
        codes=$(grep -o -E '(NOERROR|SERVFAIL|NXDOMAIN|REFUSED|FORMERR|NOTIMP) [0-9]+ \([0-9.]+%\)' "$p" | paste -sd, - | sed 's/,/, /g' || true)
        NOTES+=("  rcodes: ${codes:-none}; $(warm_summary)")
        NOTES+=("  server processes ${SERVER_PIDS[*]}; alive after the run: $alive; upstream packets during the run: $up_udp UDP, $up_syn SYN; CPUs busy: $(cpu_busy "$RUN_DIR/cpu.before" "$RUN_DIR/cpu.after")")
        if [ "$t" = tern ] || [ "$t" = tern-auth ]; then
            NOTES+=("  tern counters (whole life, warm-up included): $(tern_counters)")
        fi
        [ -z "$noise" ] || NOTES+=("${noise/   /  }")
        run_teardown
    done
done

echo
printf '%-11s %9s %9s %7s %7s %9s %9s\n' server sent answered lost "CPU s" "µs/query" "lat ms"
printf '%s\n' "${ROWS[@]}"
echo
printf '%s\n' "${NOTES[@]}"
if [ "$REPEAT" -gt 1 ]; then
    echo
    echo "medians over the $REPEAT rounds (µs/query min-max):"
    printf '%s\n' "${ROWS[@]}" | awk '{ split($1, n, "#"); print n[1], $6 }' | sort -k1,1 -k2,2g |
        awk '$1 != t { if (t != "") out(); t = $1; m = 0 } { x[++m] = $2 } END { if (t != "") out() }
             function out() { printf "%-11s %9.2f   (%.2f-%.2f)\n", t, (m % 2 ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2), x[1], x[m] }'
fi
