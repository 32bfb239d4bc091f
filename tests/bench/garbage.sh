#!/usr/bin/env bash
# Benchmark: what garbage costs a resolver in memory, tern vs Unbound, from one invocation.
#
#   bash tests/bench/garbage.sh [UDP_COUNT] [UDP_RATE] [TCP_COUNT] [LORIS]
#                               defaults: 200000 datagrams at 20000/s, 2000 streams, 50 loris
#
# For tern, then Unbound, each in its own fresh network namespace with its own NSD hierarchy
# (see lib.sh), resolver on 127.0.0.53:53 pinned to CPU 1, everything else on CPU 0:
#   1. warm-up: the 60 recursive questions of questions.txt (lib_hits.sh's set) twice with
#      dnsperf, then once each with dig over UDP and over TCP: the reference answers (rcode and
#      the answer section without TTLs, sorted); then 2 s of quiet and RSS "before" (VmRSS);
#   2. garbage.py udp: UDP_COUNT malformed datagrams from 64 source addresses, paced at
#      UDP_RATE/s (random bytes of 0-1500 octets, runts shorter than a header, headers with
#      random section counts and garbage after them, compression loops in the question, a good
#      question with a lying OPT record, a good question with a looping or overlong answer
#      record). The kernel's drops (Udp RcvbufErrors of the namespace) are reported: a drop is a
#      datagram the server never saw;
#   3. garbage.py tcp: TCP_COUNT connections, 32 at a time, each one malformed stream (a length
#      prefix too short for a header, a prefix of 4-64 KiB then part of it and a FIN or RST,
#      random bytes, complete frames of malformed messages, one whole 32-64 KiB garbage message,
#      half a prefix), then FIN and read until the server closes (at most 5 s);
#   4. garbage.py loris: LORIS connections that each send the first byte of a length prefix and
#      then nothing; the time until the server closes each (at most 70 s) is its idle timeout;
#   5. the valid questions again, over UDP and TCP with dig: each must get its reference answer;
#   6. 2 s of quiet, then RSS "after".
# One row per resolver: RSS before/after/growth (MB), peak RSS (VmHWM), valid answers matching
# the reference, the UDP garbage sent/dropped by the kernel/answered, the TCP streams still open
# 5 s after the client's FIN (should be 0), the slow-loris connections closed and when
# (min/median/max s). Then notes: RSS after each phase and every 2 s, what the generator reports
# per kind, smaps_rollup at the end. KEEP_STATE=1 also keeps /proc/PID/smaps before the garbage,
# after it and at the end.
#
# Knobs (environment): see lib.sh (PIN, TERN_BIN, BUILD, KEEP_STATE, TERN_CACHE_MAX_BYTES),
# RESOLVERS="tern unbound", PHASES="udp tcp loris" (a subset, to tell which costs what), KINDS=
# (only those kinds of datagram or stream: see garbage.py), SEED=1 (the garbage is the same for
# both resolvers and every run with the same seed), REPEAT=N (N rounds through the resolvers,
# interleaved, then the spread of each resolver's growth).
# Needs root, dnsperf, nsd, unbound, dig, iproute2, iptables, taskset, ss, python3 >= 3.11.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/bench/lib_hits.sh
source "$BENCH_DIR/lib_hits.sh"

UDP_COUNT=${1:-200000}
UDP_RATE=${2:-20000}
TCP_COUNT=${3:-2000}
LORIS=${4:-50}
for v in "$UDP_COUNT" "$UDP_RATE" "$TCP_COUNT" "$LORIS"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "usage: garbage.sh [UDP_COUNT] [UDP_RATE] [TCP_COUNT] [LORIS] (positive integers)"
done
[ "$LORIS" -le 200 ] || die "LORIS at most 200 (tern's default connection cap is 256)"
SEED=${SEED:-1}
REPEAT=${REPEAT:-1}
[[ $REPEAT =~ ^[1-9]$ ]] || die "REPEAT must be 1..9"
read -r -a RESOLVER_LIST <<<"${RESOLVERS:-tern unbound}"
PHASES=" ${PHASES:-udp tcp loris} "
GEN=$BENCH_DIR/garbage.py
LORIS_MAX=70

bench_require dnsperf nsd unbound dig iptables ip taskset ss timeout
bench_init
bench_tern_binary
hits_questions

echo "garbage.sh: $UDP_COUNT malformed UDP datagrams at $UDP_RATE/s, $TCP_COUNT malformed TCP streams, $LORIS slow-loris connections (seed $SEED)"
echo "tern $TERN_DESC; $(unbound -V | head -1) (1 thread, msg/rrset cache 4m/4m); kernel $(uname -r)"
[ "$PHASES" = " udp tcp loris " ] || echo "phases:$PHASES(the others left out)"
echo "pinning: $([ "$PIN" = 1 ] && echo 'resolver CPU 1, NSD + garbage + dig CPU 0' || echo off)"

# One line per question: "name type transport rcode answer;answer;..." (TTLs left out,
# answers sorted), for every question of rec.queries over UDP and TCP.
ask_all() { # out-file
    local name type tcp
    : >"$1"
    while read -r name type; do
        for tcp in notcp tcp; do
            # shellcheck disable=SC2046
            nsx $(pin_aux) dig @"$RESOLVER_ADDR" +"$tcp" +time=3 +tries=1 +noall +comments +answer \
                "$name" "$type" 2>/dev/null |
                awk -v q="$name $type $tcp" '
                    /status:/ { s = $0; sub(/.*status: /, "", s); sub(/,.*/, "", s) }
                    !/^;/ && NF >= 5 { $2 = ""; a[n++] = $0 }
                    END {
                        out = ""
                        for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
                        for (i = 0; i < n; i++) out = out (i ? ";" : "") a[i]
                        printf "%s %s %s\n", q, (s == "" ? "NO-ANSWER" : s), out
                    }' >>"$1"
        done
    done <"$STATE/rec.queries"
}

snmp_udp() { # field -> value of Udp: FIELD in the namespace
    nsx cat /proc/net/snmp | awk -v f="$1" '$1 == "Udp:" && !h { for (i = 2; i <= NF; i++) c[$i] = i; h = 1; next }
        $1 == "Udp:" && h { print $(c[f]); exit }'
}

field() { # "k=v k=v ..." key -> v
    tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2; exit }'
}

ROWS=()
NOTES=()
GROWTH=()
for ((r = 1; r <= REPEAT; r++)); do
    for res in "${RESOLVER_LIST[@]}"; do
        label=$res
        if [ "$REPEAT" -gt 1 ]; then label="$res#$r"; fi
        run_begin "garbage$r-$res"
        nsd_start
        start_resolver "$res"
        # shellcheck disable=SC2046
        nsx $(pin_aux) timeout -k 5 120 dnsperf -s "$RESOLVER_ADDR" -d "$STATE/rec.queries" -n 2 -c 1 -q 10 -t 10 \
            >"$RUN_DIR/warm.out" 2>&1 || log "warning: warm-up dnsperf exited non-zero"
        ask_all "$RUN_DIR/reference"
        sleep 2
        before=$(rss_kb "$RES_PID" VmRSS)
        cp "/proc/$RES_PID/smaps" "$RUN_DIR/smaps.before" 2>/dev/null || true

        udp_out="" tcp_out="" loris_out="" drops=0
        rss_sampler_start 400
        t0=$SECONDS
        drops0=$(snmp_udp RcvbufErrors)
        if [[ $PHASES == *" udp "* ]]; then
            # shellcheck disable=SC2046
            udp_out=$(nsx $(pin_aux) timeout -k 5 $((UDP_COUNT / UDP_RATE + 60)) python3 "$GEN" udp "$RESOLVER_ADDR" 53 \
                "$UDP_COUNT" "$UDP_RATE" "$SEED") || log "warning: garbage.py udp failed for $res"
        fi
        drops=$(($(snmp_udp RcvbufErrors) - drops0))
        after_udp=$(rss_kb "$RES_PID" VmRSS)
        marks="udp $((SECONDS - t0))"

        if [[ $PHASES == *" tcp "* ]]; then
            # shellcheck disable=SC2046
            tcp_out=$(nsx $(pin_aux) timeout -k 5 600 python3 "$GEN" tcp "$RESOLVER_ADDR" 53 "$TCP_COUNT" 32 "$SEED") ||
                log "warning: garbage.py tcp failed for $res"
        fi
        after_tcp=$(rss_kb "$RES_PID" VmRSS)
        marks+=", tcp $((SECONDS - t0))"

        if [[ $PHASES == *" loris "* ]]; then
            # shellcheck disable=SC2046
            loris_out=$(nsx $(pin_aux) timeout -k 5 $((LORIS_MAX + 30)) python3 "$GEN" loris "$RESOLVER_ADDR" 53 "$LORIS" "$LORIS_MAX") ||
                log "warning: garbage.py loris failed for $res"
        fi
        after_loris=$(rss_kb "$RES_PID" VmRSS)
        marks+=", loris $((SECONDS - t0))"

        cp "/proc/$RES_PID/smaps" "$RUN_DIR/smaps.garbage" 2>/dev/null || true
        ask_all "$RUN_DIR/after"
        marks+=", valid queries $((SECONDS - t0))"
        sleep 2
        after=$(rss_kb "$RES_PID" VmRSS)
        peak=$(rss_kb "$RES_PID" VmHWM)
        alive=yes
        kill -0 "$RES_PID" 2>/dev/null || alive="NO (exited)"
        cp "/proc/$RES_PID/smaps_rollup" "$RUN_DIR/smaps_rollup" 2>/dev/null || true
        cp "/proc/$RES_PID/smaps" "$RUN_DIR/smaps.after" 2>/dev/null || true
        kill_pid "$RSS_SAMPLER"
        stop_resolver

        total=$(wc -l <"$RUN_DIR/reference")
        good=$(awk '$4 == "NOERROR" || $4 == "NXDOMAIN"' "$RUN_DIR/reference" | grep -c -x -F -f - "$RUN_DIR/after" || true)
        wrong=$(diff <(sort "$RUN_DIR/reference") <(sort "$RUN_DIR/after") | grep '^>' | head -3 | cut -c1-120 | paste -sd'|' - || true)
        ROWS+=("$(awk -v r="$label" -v b="$before" -v a="$after" -v p="$peak" -v g="$good" -v t="$total" \
            -v us="$(field "$udp_out" sent)" -v ud="$drops" -v ur="$(field "$udp_out" replies)" \
            -v tc="$(field "$tcp_out" still_open)" -v tn="$(field "$tcp_out" connections)" \
            -v lc="$(field "$loris_out" closed)" -v ln="$(field "$loris_out" connections)" \
            -v lt="$(field "$loris_out" min)/$(field "$loris_out" median)/$(field "$loris_out" max)" 'BEGIN {
                printf "%-10s %7.1f %7.1f %+7.1f %7.1f %7s %8d %6d %8d %9s %7s %14s",
                    r, b / 1024, a / 1024, (a - b) / 1024, p / 1024, g "/" t, us, ud, ur, tc "/" tn, lc "/" ln, lt }')")
        GROWTH+=("$res $(((after - before)))")
        NOTES+=("$label: alive: $alive; RSS MB before $(mb "$before"), after UDP $(mb "$after_udp"), after TCP $(mb "$after_tcp"), after loris $(mb "$after_loris"), after the valid queries and 2 s $(mb "$after")")
        NOTES+=("  RSS MB every 2 s from the start of the garbage (phases end at s: $marks): $(awk '$1 % 2 == 0 { printf "%s%.1f", sep, $2 / 1024; sep = " " }' "$RUN_DIR/rss")")
        NOTES+=("  udp: $udp_out")
        NOTES+=("  tcp: $tcp_out")
        NOTES+=("  loris: $loris_out")
        [ -z "$wrong" ] || NOTES+=("  valid answers that differ from the reference: $wrong")
        NOTES+=("  smaps_rollup at the end: $(awk '/^(Rss|Anonymous|Private_Dirty):/ { printf "%s%s %.1f MB", sep, $1, $2 / 1024; sep = ", " }' "$RUN_DIR/smaps_rollup" 2>/dev/null)")
        if [ "$res" = tern ]; then NOTES+=("  tern logged $(log_volume)"); fi
        run_teardown
    done
done

echo
printf '%-10s %7s %7s %7s %7s %7s %8s %6s %8s %9s %7s %14s\n' resolver "RSS0 MB" "RSS1 MB" growth "peak MB" valid \
    "udp sent" dropped replies "tcp open" loris "loris s min/med/max"
printf '%s\n' "${ROWS[@]}"
echo
printf '%s\n' "${NOTES[@]}"
if [ "$REPEAT" -gt 1 ]; then
    echo
    echo "growth over the $REPEAT rounds, MB (min / median / max):"
    printf '%s\n' "${GROWTH[@]}" | sort -k1,1 -k2,2n |
        awk '$1 != t { if (t != "") out(); t = $1; m = 0 } { x[++m] = $2 / 1024 } END { if (t != "") out() }
             function out() { printf "%-10s %+.1f / %+.1f / %+.1f\n", t, x[1], x[int((m + 1) / 2)], x[m] }'
fi
