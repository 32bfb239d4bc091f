#!/usr/bin/env bash
# Benchmark: a flood of unique names (every one a cache miss), tern vs Unbound, from one
# invocation.
#
#   bash tests/bench/flood.sh [RATE] [SECS] [NAMES]     defaults: 20000 q/s, 10 s, RATE*SECS names
#   bash tests/bench/flood.sh 20000 60 1000000          the long memory run (RSS plateau)
#
# The query file holds NAMES unique names `u<N>.wild.alpha.test A`: the wildcard
# *.wild.alpha.test answers every one of them, so each is a cache miss that needs one trip to the
# alpha.test servers. For tern, then Unbound, each in its own fresh network namespace with its
# own NSD hierarchy (see lib.sh): the resolver is started, warmed with www.alpha.test A (so the
# root, test. and alpha.test. delegations are cached), then dnsperf offers the names once:
#   dnsperf -s 127.0.0.53 -d FILE -n 1 -Q RATE -c 10 -q 1000 -t 5 -l SECS
# One row per resolver (percentages are of queries sent):
#   sent, completed %, lost %, NOERROR %, SERVFAIL %, answers/s (completed / run time),
#   mean latency, peak RSS (VmHWM) and final RSS (VmRSS, when dnsperf is done), resolver CPU
#   seconds during the flood (utime+stime), upstream packets (UDP packets + TCP SYNs to port 53
#   of 127.0.0.0/8 but 127.0.0.53, counted by iptables) and upstream UDP per query sent.
# Then, per resolver: the RSS every 5 s, what it logged (warn/error lines: log volume), and for
# tern its own shutdown counters.
#
# Knobs (environment): see lib.sh (PIN, NSD_RRL, TERN_CACHE_MAX_BYTES, TERN_BIN, BUILD,
# KEEP_STATE), RESOLVERS="tern unbound", and PROFILE=1 (perf record -g of the resolver during
# the flood, kept with KEEP_STATE=1).
# Needs root, dnsperf, nsd, unbound, dig, iproute2, iptables, taskset, python3 >= 3.11.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"

RATE=${1:-20000}
SECS=${2:-10}
NAMES=${3:-$((RATE * SECS))}
for v in "$RATE" "$SECS" "$NAMES"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "usage: flood.sh [RATE] [SECS] [NAMES] (positive integers)"
done
read -r -a RESOLVER_LIST <<<"${RESOLVERS:-tern unbound}"

bench_require dnsperf nsd unbound dig iptables ip taskset ss timeout
bench_init
bench_tern_binary

awk -v n="$NAMES" 'BEGIN { for (i = 0; i < n; i++) printf "u%d.wild.alpha.test A\n", i }' >"$STATE/names"

echo "flood.sh: $NAMES unique names u<N>.wild.alpha.test A offered at $RATE q/s for at most $SECS s"
echo "dnsperf -s $RESOLVER_ADDR -d FILE -n 1 -Q $RATE -c 10 -q 1000 -t 5 -l $SECS"
echo "tern $TERN_DESC; $(unbound -V | head -1) (1 thread, msg/rrset cache 4m/4m); NSD $(nsd -v 2>&1 | head -1 | awk '{ print $3 }'), rrl-ratelimit ${NSD_RRL}"
echo "pinning: $([ "$PIN" = 1 ] && echo 'resolver CPU 1, NSD + dnsperf CPU 0' || echo off)"
if [ -n "${LEAF_CPU:-}${LEAF_RATE:-}" ]; then
    echo "leaf: the alpha.test. servers ($LEAF_ADDRS): CPU ${LEAF_CPU:-unlimited} % of one core; ${LEAF_RATE:-unlimited} queries/s taken, the rest dropped"
fi

perf_field() { # file label -> first number after "label:"
    awk -v l="$2:" 'i = index($0, l) { $0 = substr($0, i + length(l)); print $1 + 0; exit }' "$1"
}
rcode_count() { # file rcode
    { grep -o "$2 [0-9]*" "$1" || true; } | awk '{ n = $2 } END { print n + 0 }'
}

ROWS=()
NOTES=()
for res in "${RESOLVER_LIST[@]}"; do
    run_begin "flood-$res"
    nsd_start
    start_resolver "$res"
    note="$res:"
    if [ "$res" = tern ]; then note+=" cache config: $TERN_CACHE_NOTE;"; fi
    # Warm the delegations (bounded: 3 queries).
    warm=""
    for _ in 1 2 3; do
        # shellcheck disable=SC2046
        warm=$(nsx $(pin_aux) dig @"$RESOLVER_ADDR" +time=2 +tries=1 +short www.alpha.test A 2>/dev/null) || true
    done
    [ "$warm" = 127.0.0.100 ] || log "warning: $res did not answer the warm-up query (got: '$warm')"

    noise=$(noise_check)
    upstream_zero
    cpu0=$(cpu_secs "$RES_PID")
    read -r u0 k0 <<<"$(split_ticks "$RES_PID")"
    x0=$(switches_of "$RES_PID")
    rss_sampler_start $((SECS + 60))
    PERF_PID=
    if [ "${PROFILE:-0}" = 1 ]; then
        perf record -q -F 2000 -g -p "$RES_PID" -o "$RUN_DIR/flood.perf" >/dev/null 2>&1 &
        PERF_PID=$!
        RUN_PIDS+=("$PERF_PID")
    fi
    cpu_jiffies >"$RUN_DIR/cpu.before"
    # shellcheck disable=SC2046
    nsx $(pin_aux) timeout -k 5 $((SECS + 30)) dnsperf -s "$RESOLVER_ADDR" -d "$STATE/names" -n 1 \
        -Q "$RATE" -c 10 -q 1000 -t 5 -l "$SECS" >"$RUN_DIR/dnsperf.out" 2>&1 ||
        log "warning: dnsperf exited non-zero for $res (see below)"
    cpu1=$(cpu_secs "$RES_PID")
    read -r u1 k1 <<<"$(split_ticks "$RES_PID")"
    x1=$(switches_of "$RES_PID")
    if [ -n "$PERF_PID" ]; then
        kill -INT "$PERF_PID" 2>/dev/null || true
        wait "$PERF_PID" 2>/dev/null || true
        NOTES+=("$res: perf profile of the flood in $RUN_DIR/flood.perf (KEEP_STATE=1 keeps it)")
    fi
    cpu_jiffies >"$RUN_DIR/cpu.after"
    final_kb=$(rss_kb "$RES_PID" VmRSS)
    peak_kb=$(rss_kb "$RES_PID" VmHWM)
    read -r up_udp up_syn <<<"$(upstream_read)"
    alive=yes
    kill -0 "$RES_PID" 2>/dev/null || alive="NO (exited during the flood)"
    kill_pid "$RSS_SAMPLER"
    stop_resolver

    p=$RUN_DIR/dnsperf.out
    sent=$(perf_field "$p" "Queries sent")
    if [ -z "$sent" ] || [ "$sent" = 0 ]; then
        cat "$p" >&2
        die "dnsperf sent nothing to $res"
    fi
    completed=$(perf_field "$p" "Queries completed")
    lost=$(perf_field "$p" "Queries lost")
    runtime=$(perf_field "$p" "Run time (s)")
    latency=$(perf_field "$p" "Average Latency (s)")
    noerror=$(rcode_count "$p" NOERROR)
    servfail=$(rcode_count "$p" SERVFAIL)
    ROWS+=("$(awk -v r="$res" -v s="$sent" -v c="$completed" -v l="$lost" -v ne="${noerror:-0}" \
        -v sf="${servfail:-0}" -v t="$runtime" -v lat="$latency" -v pk="$peak_kb" -v fk="$final_kb" \
        -v c0="$cpu0" -v c1="$cpu1" -v uu="$up_udp" -v us="$up_syn" 'BEGIN {
            printf "%-8s %8d %6.1f %6.1f %7.1f %7.1f %8.0f %8.1f %7.1f %7.1f %6.2f %8d %5d %5.2f",
                r, s, 100 * c / s, 100 * l / s, 100 * ne / s, 100 * sf / s, (t > 0 ? c / t : 0),
                1000 * lat, pk / 1024, fk / 1024, c1 - c0, uu, us, uu / s }')")
    note+=" alive after the flood: $alive; logged $(log_volume)"
    # Where the CPU went, per answer: in the process (user) or in the kernel for it (system
    # calls, wake-ups), and how often it gave up the CPU or had it taken.
    note+="; per answer: $(awk -v u=$((u1 - u0)) -v k=$((k1 - k0)) -v x=$((x1 - x0)) -v c="$completed" \
        -v hz="$HZ" 'BEGIN { if (c > 0) printf "user %.1f µs + kernel %.1f µs, %.2f context switches", 1e6 * u / hz / c, 1e6 * k / hz / c, x / c }')"
    NOTES+=("$note")
    [ -z "$noise" ] || NOTES+=("${noise/   /  }")
    NOTES+=("  RSS MB every 5 s: $(awk '$1 % 5 == 0 { printf "%s%.0fs %.1f", sep, $1, $2 / 1024; sep = ", " }' "$RUN_DIR/rss")")
    other=$(grep -o -E '(NOERROR|SERVFAIL|NXDOMAIN|REFUSED|FORMERR|NOTIMP) [0-9]+ \([0-9.]+%\)' "$p" | paste -sd, - || true)
    NOTES+=("  dnsperf response codes: ${other:-none}; run time ${runtime} s; machine CPUs busy during the run: $(cpu_busy "$RUN_DIR/cpu.before" "$RUN_DIR/cpu.after")")
    if [ "$res" = tern ]; then
        NOTES+=("  tern counters: $(tern_counters)")
        top=$(grep -E ' (WARN|ERROR) ' "$RES_LOG" | sed -E 's/^[^ ]+ +//; s/ client=[^ ]*//g' | cut -c1-100 |
            sort | uniq -c | sort -rn | head -3 | awk '{ $1 = $1 " x"; print }' | paste -sd';' - || true)
        [ -z "$top" ] || NOTES+=("  most frequent warnings: $top")
    fi
    run_teardown
done

echo
printf '%-8s %8s %6s %6s %7s %7s %8s %8s %7s %7s %6s %8s %5s %5s\n' resolver sent "compl%" "lost%" \
    "NOERR%" "SRVFL%" "answ/s" "lat ms" "peakMB" "finalMB" "CPU s" "up UDP" "SYN" "up/q"
printf '%s\n' "${ROWS[@]}"
echo
printf '%s\n' "${NOTES[@]}"
