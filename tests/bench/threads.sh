#!/usr/bin/env bash
# Benchmark: one server thread against two on the machine's two cores (issue 21 item 5), tern
# beside Unbound and NSD, from one invocation.
#
#   bash tests/bench/threads.sh [RATE] [SECS]      defaults: 30000 q/s, 10 s per run
#   SMOKE=1 bash tests/bench/threads.sh            2 s per run, 5000 q/s: proves the script works
#
# The targets of hits.sh (lib_hits.sh), each started fresh in its own namespace with 1 thread
# and then with 2, and warmed:
#   tern        recursive cache hits, [server] threads = N (TERN_SERVER)
#   unbound     the same hits, num-threads: N, so-reuseport: yes (UNBOUND_THREADS)
#   tern-auth   tern serve --no-recursion, [server] threads = N
#   nsd         NSD, server-count: N, reuseport: yes when N > 1 (NSD_SERVERS)
# Two runs per started server, on the same warm cache, with N dnsperf threads:
#   sat    dnsperf -s 127.0.0.53 -d FILE -c 10N -q 200N -T N -l SECS   (no rate limit)
#   RATE   the same with -Q RATE
# Who shares the cores: with 1 thread, the server is pinned to CPU 1 and dnsperf (with the idle
# NSD hierarchy) to CPU 0, as in hits.sh. With 2 threads nothing is pinned: the server's two
# threads, dnsperf's two threads and the hierarchy share both cores, and so does whatever else
# runs on the machine (the CPUs are sampled idle before each server's runs, and a warning is
# printed when they are not). At saturation a 2-thread server's q/s is then what the box does
# with dnsperf on it too, not what two free cores of server would do.
# One table: a row per server, thread count and run: sent, answered, lost, answered q/s, the
# server's CPU seconds (utime+stime of all its threads; NSD: every process holding the socket),
# µs of server CPU per answer (and of it, user space), and each CPU's busy share over the run;
# with REPEAT=N, N rounds through every server and thread count, interleaved, then each case's
# median (min-max); then tern ÷ peer, of the medians.
#
# Knobs (environment): see lib.sh (TERN_BIN, BUILD, KEEP_STATE, TERN_CACHE_MAX_BYTES);
# TARGETS="tern unbound tern-auth nsd" (a subset), THREADS="1 2", SMOKE=1, REPEAT=N (1..9).
# Bounded: REPEAT × |TARGETS| × |THREADS| servers, two dnsperf runs each, every dnsperf under `timeout`;
# stops only the processes it started, by PID (lib.sh).
# Needs root, dnsperf, nsd, unbound, dig, iproute2, iptables, taskset, ss, python3 >= 3.11.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/bench/lib_hits.sh
source "$BENCH_DIR/lib_hits.sh"

if [ "${SMOKE:-0}" = 1 ]; then
    RATE=${1:-5000}
    SECS=${2:-2}
else
    RATE=${1:-30000}
    SECS=${2:-10}
fi
[[ "$RATE $SECS" =~ ^[1-9][0-9]*\ [1-9][0-9]*$ ]] || die "usage: threads.sh [RATE] [SECS] (positive integers)"
read -r -a TARGET_LIST <<<"${TARGETS:-tern unbound tern-auth nsd}"
read -r -a THREAD_LIST <<<"${THREADS:-1 2}"
for n in "${THREAD_LIST[@]}"; do
    [[ $n =~ ^[12]$ ]] || die "THREADS: 1 and/or 2 (the machine's cores)"
done
[ "$(nproc)" -ge 2 ] || die "needs 2 CPUs"
REPEAT=${REPEAT:-1}
[[ $REPEAT =~ ^[1-9]$ ]] || die "REPEAT must be 1..9"

bench_require dnsperf nsd unbound dig iptables ip taskset ss timeout
bench_init
bench_tern_binary
hits_questions

echo "threads.sh: per server, dnsperf -s $RESOLVER_ADDR -d FILE -c 10N -q 200N -T N -l $SECS, unbounded (sat) then -Q $RATE"
echo "$(dnsperf -h 2>&1 | awk '/^Version/ { print "dnsperf " $2; exit }'); tern $TERN_DESC; $(unbound -V | head -1); NSD $(nsd -v 2>&1 | head -1 | awk '{ print $3 }'); kernel $(uname -r); $(nproc) CPUs"
echo "1 thread: server on CPU 1, dnsperf on CPU 0; 2 threads: nothing pinned"

# Reads a dnsperf output: "sent answered lost qps".
perf_summary() { # file
    awk -F: '{ gsub(/^[ \t]+/, "", $1); v = $2 + 0 }
        $1 == "Queries sent" { s = v } $1 == "Queries completed" { a = v }
        $1 == "Queries lost" { l = v } $1 == "Queries per second" { q = v }
        END { print s + 0, a + 0, l + 0, q + 0 }' "$1"
}

# The busiest threads of the processes over their lives, "name=CPU-seconds" (the split shows
# whether the kernel spread the load over a server's sockets).
busiest_threads() { # pid...
    local p d u k
    for p in "$@"; do
        for d in /proc/"$p"/task/*; do
            read -r u k <<<"$(split_ticks "$p/task/${d##*/}")"
            echo "$(tr ' ' _ <"$d/comm" 2>/dev/null) $((u + k))"
        done
    done | sort -k2,2nr | head -4 | awk -v hz="$HZ" '{ printf "%s%s=%.2f", sep, $1, $2 / hz; sep = " " }'
}

ROWS=()
NOTES=()
# The servers' user-space CPU ticks (the part a lock or a shared cache line would show in).
user_ticks() {
    local p u sum=0
    for p in "${SERVER_PIDS[@]}"; do read -r u _ <<<"$(split_ticks "$p")" && sum=$((sum + u)); done
    echo "$sum"
}

# One dnsperf run against the started server: a row of the table (under LABEL, the target and
# its round).
measure() { # target threads run-name [dnsperf args...]
    local t=$1 n=$2 name=$3 out c0 c1 u0 u1 sent answered lost qps busy
    shift 3
    out=$RUN_DIR/$name.out
    c0=$(cpu_ticks_of "${SERVER_PIDS[@]}")
    u0=$(user_ticks)
    cpu_jiffies >"$RUN_DIR/cpu.before"
    # shellcheck disable=SC2046
    nsx $(pin_aux) timeout -k 5 $((SECS + 30)) dnsperf -s "$RESOLVER_ADDR" -d "$TARGET_QFILE" \
        -c $((10 * n)) -q $((200 * n)) -T "$n" -l "$SECS" "$@" >"$out" 2>&1 ||
        log "warning: dnsperf exited non-zero ($t, $n threads, $name)"
    c1=$(cpu_ticks_of "${SERVER_PIDS[@]}")
    u1=$(user_ticks)
    cpu_jiffies >"$RUN_DIR/cpu.after"
    busy=$(cpu_busy "$RUN_DIR/cpu.before" "$RUN_DIR/cpu.after")
    read -r sent answered lost qps <<<"$(perf_summary "$out")"
    [ "$sent" -gt 0 ] || {
        cat "$out" >&2
        die "dnsperf sent nothing to $t ($n threads, $name)"
    }
    ROWS+=("$(awk -v t="$LABEL" -v n="$n" -v r="$name" -v s="$sent" -v a="$answered" -v l="$lost" -v q="$qps" \
        -v ticks=$((c1 - c0)) -v user=$((u1 - u0)) -v hz="$HZ" -v busy="$busy" 'BEGIN {
            cpu = ticks / hz
            printf "%-12s %3d %-6s %9d %9d %6d %9.0f %7.2f %9.2f %6.2f   %s", t, n, r, s, a, l, q, cpu,
                (a > 0 ? 1e6 * cpu / a : 0), (a > 0 ? 1e6 * user / hz / a : 0), busy }')")
}

# Medians over the rounds: rows on stdin, the case named by the first NKEY fields (the round,
# "#N" after the first, left out); per case and COL, "median min max", cases in order of first
# appearance.
round_medians() { # nkey col...
    local nk=$1
    shift
    awk -v nk="$nk" -v cols="$*" 'BEGIN { nc = split(cols, col, " ") }
        function middle(k, c,   m, i, j, v, a) {
            m = seen[k]
            for (i = 1; i <= m; i++) {
                v = val[k, c, i]
                for (j = i - 1; j >= 1 && a[j] > v; j--) a[j + 1] = a[j]
                a[j + 1] = v
            }
            return sprintf("%s %s %s", (m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2), a[1], a[m])
        }
        { sub(/#.*/, "", $1); k = $1; for (i = 2; i <= nk; i++) k = k " " $i
          if (!(k in seen)) order[++cases] = k
          seen[k]++
          for (c = 1; c <= nc; c++) val[k, c, seen[k]] = $(col[c]) + 0 }
        END { for (i = 1; i <= cases; i++) { line = order[i]; for (c = 1; c <= nc; c++) line = line " " middle(order[i], c); print line } }'
}

for ((r = 1; r <= REPEAT; r++)); do
    for n in "${THREAD_LIST[@]}"; do
        for t in "${TARGET_LIST[@]}"; do
            case $t in
            tern | unbound | tern-auth | nsd) ;;
            *) die "unknown target $t (threads.sh: tern unbound tern-auth nsd)" ;;
            esac
            PIN=1
            [ "$n" = 1 ] || PIN=0
            LABEL=$t
            if [ "$REPEAT" -gt 1 ]; then LABEL="$t#$r"; fi
            TERN_SERVER="threads = $n" UNBOUND_THREADS=$n NSD_SERVERS=$n target_start "$t" "r$r-thr$n"
            noise=$(noise_check)
            sockets=$(nsx ss -Hlun "src $RESOLVER_ADDR:53" | wc -l)
            upstream_zero
            measure "$t" "$n" sat
            measure "$t" "$n" "$RATE" -Q "$RATE"
            read -r up_udp up_syn <<<"$(upstream_read)"
            split=$(busiest_threads "${SERVER_PIDS[@]}")
            alive="NO (exited during the runs)"
            if kill -0 "$RES_PID" 2>/dev/null; then alive=yes; fi
            stop_resolver
            NOTES+=("$LABEL, $n thread(s): ${TARGET_DESC#*: }; processes ${SERVER_PIDS[*]}, UDP sockets on :53: $sockets, busiest threads (CPU s): $split; alive after: $alive; upstream packets: $up_udp UDP, $up_syn SYN; $(warm_summary)")
            case $t in tern*) NOTES+=("  tern counters (whole life): $(tern_counters)") ;; esac
            if [ -n "$noise" ]; then NOTES+=("${noise/   /  }"); fi
            run_teardown
        done
    done
done
PIN=1

echo
printf '%-12s %3s %-6s %9s %9s %6s %9s %7s %9s %6s   %s\n' server thr run sent answered lost "q/s" "CPU s" "µs/answer" "user" "CPUs busy"
printf '%s\n' "${ROWS[@]}"
echo
# server thr run, then median min max of: q/s, µs/answer, user µs/answer
MEDIANS=$(printf '%s\n' "${ROWS[@]}" | round_medians 3 7 9 10)
if [ "$REPEAT" -gt 1 ]; then
    echo "medians over the $REPEAT rounds (min-max):"
    printf '%-10s %3s %-6s %22s %22s %18s\n' server thr run "q/s" "µs/answer" "user"
    awk '{ printf "%-10s %3d %-6s %8.0f (%.0f-%.0f) %7.2f (%.2f-%.2f) %6.2f (%.2f-%.2f)\n",
        $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }' <<<"$MEDIANS"
    echo
fi
echo "tern ÷ peer (same threads and run$([ "$REPEAT" = 1 ] || echo ", medians")): answered q/s, µs of server CPU per answer"
awk '{ k = $2 " " $3; q[$1, k] = $4; c[$1, k] = $7; keys[k] = 1 }
    END {
        for (k in keys) {
            if (("tern", k) in q && ("unbound", k) in q && q["unbound", k] > 0 && c["unbound", k] > 0)
                printf "  %-22s %-12s q/s %.2f ×   µs/answer %.2f ×\n", "tern/unbound", k, q["tern", k] / q["unbound", k], c["tern", k] / c["unbound", k]
            if (("tern-auth", k) in q && ("nsd", k) in q && q["nsd", k] > 0 && c["nsd", k] > 0)
                printf "  %-22s %-12s q/s %.2f ×   µs/answer %.2f ×\n", "tern-auth/nsd", k, q["tern-auth", k] / q["nsd", k], c["tern-auth", k] / c["nsd", k]
        }
    }' <<<"$MEDIANS" | sort
echo
printf '%s\n' "${NOTES[@]}"
