#!/usr/bin/env bash
# Benchmark: cold-cache correctness, wall time and upstream traffic under packet loss and delay,
# tern vs Unbound, from one invocation.
#
#   bash tests/bench/loss.sh [MODE]        MODE: none | loss10 | delay | all (default: all)
#
# For each MODE and each resolver (tern, then Unbound), in a fresh network namespace with its own
# NSD hierarchy and a freshly started resolver (cold cache; see lib.sh):
#   1. the impairment is applied to the resolver <-> authoritative packets (both directions:
#      every packet to or from port 53 of an address other than 127.0.0.53; the stub <-> resolver
#      packets are never impaired), then checked with probes from dig to 127.0.0.41;
#   2. the 67 questions of tests/bench/questions.txt are asked SEQUENTIALLY by a stub that resends
#      every second for up to 10 s: `dig @127.0.0.53 +timeout=1 +tries=10` (+tries counts every
#      attempt, the first included; +retry=9 would be the same thing). Each answer (rcode +
#      answer RRs, TTLs dropped, owner names lowercased, sorted) is compared with the reference;
#   3. it prints right/67 (for tern, c1/c2.alpha.test. A, chains of 12 and 11 CNAMEs, are right
#      as SERVFAIL: its 10-CNAME limit, as in tests/it/unbound_diff.rs), every wrong answer (got
#      vs expected; marked when the same resolver gave the same answer without impairment), the
#      total wall time (with the part of it that is
#      only dig's start-up, ~35 ms a question, measured against an instant REFUSED from
#      127.0.0.61), the slowest question, the upstream packets (UDP packets + TCP SYNs counted by
#      iptables) and the resolver's CPU time (utime+stime).
# The reference answers come once per invocation from a lossless, cold Unbound run in its own
# namespace; that run is also Unbound's row for MODE none.
#
# Modes:
#   none    no impairment: the plain cold-run comparison (wall time, upstream count)
#   loss10  10 % random loss per packet, both directions: iptables `-m statistic --mode random
#           --probability 0.10 -j DROP`, in the OUTPUT chain only (on lo every packet crosses
#           OUTPUT once and INPUT once; dropping in one chain keeps the rate at 10 % per packet),
#           so an exchange (query + answer) fails 19 % of the time.
#   delay   every such packet goes through NFQUEUE to nfq_delay (nfq_delay.c, built here), which
#           delays it by 25 +- 10 ms (uniform) and drops 5 % of them. Queries and answers are both
#           delayed, so the RTT gains 50 +- 20 ms (sum of two uniforms: triangular on [30, 70] ms,
#           mean 50), and an exchange fails 1 - 0.95^2 = 9.75 % of the time.
#
# Knobs (environment): see lib.sh (PIN, NSD_RRL, TERN_BIN, BUILD, KEEP_STATE), and
#   RESOLVERS="tern unbound"   which resolvers to run
#   PROBES=100                 impairment-check probes per impaired run (0: skip the check)
#   RUN_LIMIT=800              hard bound (s) on the questions of one run; later ones are skipped
#   REPEAT=1                   cold runs per mode and resolver (loss is random: one run of ~100
#                              upstream packets loses ~10 of them, so repeat for a steadier view)
#   DELAY_MS=25 JITTER_MS=10 DELAY_LOSS=0.05   nfq_delay per-packet settings for MODE delay
#
# Needs root, iproute2, iptables (statistic and NFQUEUE targets), nsd, unbound, dig, taskset,
# python3 >= 3.11, gcc; for MODE delay also libnetfilter-queue-dev (installed with apt-get when
# its header is missing) and a kernel with nfnetlink_queue.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"

MODE=${1:-all}
case $MODE in
all) MODES=(none loss10 delay) ;;
none | loss10 | delay) MODES=("$MODE") ;;
*) die "unknown mode $MODE (none | loss10 | delay | all)" ;;
esac
read -r -a RESOLVER_LIST <<<"${RESOLVERS:-tern unbound}"
PROBES=${PROBES:-100}
RUN_LIMIT=${RUN_LIMIT:-800}
REPEAT=${REPEAT:-1}
[[ $REPEAT =~ ^[1-9][0-9]?$ ]] || die "REPEAT must be 1..99"
DELAY_MS=${DELAY_MS:-25}
JITTER_MS=${JITTER_MS:-10}
DELAY_LOSS=${DELAY_LOSS:-0.05}
LOSS_P=0.10
QUEUE=7
QUESTIONS=$BENCH_DIR/questions.txt
STUB=(dig @"$RESOLVER_ADDR" +timeout=1 +tries=10 +noall +comments +answer)

bench_require nsd unbound dig iptables ip taskset ss gcc timeout
bench_init
bench_tern_binary
mapfile -t QLIST < <(grep -v '^[[:space:]]*\(#\|$\)' "$QUESTIONS")
NQ=${#QLIST[@]}
[ "$NQ" -gt 0 ] || die "no questions in $QUESTIONS"

# ---------------------------------------------------------------------------------------------

nfq_build() {
    [ -x "$STATE/nfq_delay" ] && return 0
    if [ ! -e /usr/include/libnetfilter_queue/libnetfilter_queue.h ]; then
        log "installing libnetfilter-queue-dev (apt-get update + install)"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
            libnetfilter-queue-dev; } >"$STATE/apt.log" 2>&1; then
            cat "$STATE/apt.log" >&2
            die "cannot install libnetfilter-queue-dev"
        fi
    fi
    local libs
    libs=$(pkg-config --libs libnetfilter_queue 2>/dev/null || echo "-lnetfilter_queue")
    # shellcheck disable=SC2086
    gcc -O2 -Wall -Wextra -o "$STATE/nfq_delay" "$BENCH_DIR/nfq_delay.c" $libs ||
        die "cannot compile nfq_delay.c"
}

# rcode + answer set of one dig output, as one line: "NOERROR | rr | rr" (TTLs dropped, owner
# names lowercased, fields single-spaced, RRs sorted); "NO-REPLY" when dig got no answer at all.
normalize_file() { # dig-output-file -> one line
    local line rr
    : >"$1.rrs"
    line=$(awk -v rrs="$1.rrs" '
        /->>HEADER<<-/ { if (match($0, /status: [A-Z0-9]+/)) status = substr($0, RSTART + 8, RLENGTH - 8); next }
        /^;/ || NF < 4 { next }
        { $1 = tolower($1); $2 = ""; $0 = $0; $1 = $1; print > rrs }
        END { print (status == "" ? "NO-REPLY" : status) }
    ' "$1")
    while IFS= read -r rr; do line+=" | $rr"; done < <(sort "$1.rrs")
    printf '%s\n' "$line"
}

# Asks every question in order; writes "name type<TAB>secs<TAB>answer" lines to $1.
ask_all() {
    local out=$1 q name type t0 t1 start i=0
    : >"$out"
    start=$(date +%s)
    for q in "${QLIST[@]}"; do
        read -r name type <<<"$q"
        i=$((i + 1))
        if (($(date +%s) - start > RUN_LIMIT)); then
            printf '%s %s\t0\tSKIPPED (run limit %s s)\n' "$name" "$type" "$RUN_LIMIT" >>"$out"
            continue
        fi
        t0=$(date +%s%N)
        # shellcheck disable=SC2046
        nsx $(pin_aux) timeout 15 "${STUB[@]}" "$name" "$type" >"$RUN_DIR/q.$i" 2>&1 || true
        t1=$(date +%s%N)
        printf '%s %s\t%s\t%s\n' "$name" "$type" \
            "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')" \
            "$(normalize_file "$RUN_DIR/q.$i")" >>"$out"
    done
}

# Probes one authoritative server PROBES times with single-try digs; prints loss and RTT.
impairment_check() {
    [ "$PROBES" -gt 0 ] || return 0
    local i rtts=()
    for ((i = 0; i < PROBES; i++)); do
        # shellcheck disable=SC2046
        rtts+=("$(nsx $(pin_aux) dig @127.0.0.41 +norec +time=1 +tries=1 +stats alpha.test SOA 2>/dev/null |
            awk '/Query time:/ { print $4 }')") || true
    done
    printf '%s\n' "${rtts[@]}" | awk -v n="$PROBES" '
        $1 != "" { k++; s += $1; if (k == 1 || $1 < min) min = $1; if (k == 1 || $1 > max) max = $1; v[k] = $1 }
        END {
            m = k ? s / k : 0; for (i = 1; i <= k; i++) sd += (v[i] - m) ^ 2
            printf "   impairment check: %d single-try digs to 127.0.0.41: %d unanswered (%.1f %%), RTT mean %.1f ms, sd %.1f, min %s, max %s\n",
                n, n - k, 100 * (n - k) / n, m, (k > 1 ? sqrt(sd / (k - 1)) : 0), min, max
        }'
}

# What one stub query costs with no resolver work at all (ip netns exec + dig start-up + an
# instant REFUSED from 127.0.0.61): the median of 5, in seconds. Measured before any impairment.
stub_cost() {
    local i t0 t1
    for ((i = 0; i < 5; i++)); do
        t0=$(date +%s%N)
        # shellcheck disable=SC2046
        nsx $(pin_aux) timeout 5 dig @127.0.0.61 +norec +time=1 +tries=1 . SOA >/dev/null 2>&1 || true
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000))
    done | sort -n | awk 'NR == 3 { printf "%.3f", $1 / 1e6 }'
}

NFQ_PID=""
impair() { # mode
    local ipt=(ip netns exec "$RUN_NS" iptables -w)
    case $1 in
    none) ;;
    loss10)
        "${ipt[@]}" -A TBQ -m statistic --mode random --probability "$LOSS_P" -m comment --comment drop_q -j DROP
        "${ipt[@]}" -A TBR -m statistic --mode random --probability "$LOSS_P" -m comment --comment drop_r -j DROP
        ;;
    delay)
        # shellcheck disable=SC2046
        ip netns exec "$RUN_NS" $(pin_aux) "$STATE/nfq_delay" "$QUEUE" "$DELAY_MS" "$JITTER_MS" \
            "$DELAY_LOSS" $((RUN_LIMIT + 300)) </dev/null 2>"$RUN_DIR/nfq.log" &
        NFQ_PID=$!
        RUN_PIDS+=("$NFQ_PID")
        local i
        for ((i = 0; i < 50; i++)); do
            grep -q '^nfq_delay: queue' "$RUN_DIR/nfq.log" 2>/dev/null && break
            kill -0 "$NFQ_PID" 2>/dev/null || break
            sleep 0.1
        done
        grep -q '^nfq_delay: queue' "$RUN_DIR/nfq.log" || {
            cat "$RUN_DIR/nfq.log" >&2
            die "nfq_delay did not start"
        }
        "${ipt[@]}" -A TBQ -m comment --comment nfq_q -j NFQUEUE --queue-num "$QUEUE"
        "${ipt[@]}" -A TBR -m comment --comment nfq_r -j NFQUEUE --queue-num "$QUEUE"
        ;;
    esac
}

# After the run: what the impairment did.
impairment_report() { # mode
    case $1 in
    loss10)
        local q r qd qn rd rn
        q=$(nsx iptables -w -L TBQ -v -x -n | awk '/drop_q/ { d = $1 } /up_all/ { n = $1 } END { print d + 0, n + 0 }')
        r=$(nsx iptables -w -L TBR -v -x -n | awk '/drop_r/ { d = $1 } /up_answers/ { n = $1 } END { print d + 0, n + 0 }')
        read -r qd qn <<<"$q"
        read -r rd rn <<<"$r"
        awk -v qd="$qd" -v qn="$qn" -v rd="$rd" -v rn="$rn" 'BEGIN {
            printf "   dropped by iptables: %d of %d packets to upstream port 53 (%.1f %%), %d of %d packets back (%.1f %%)\n",
                qd, qn, (qn ? 100 * qd / qn : 0), rd, rn, (rn ? 100 * rd / rn : 0) }'
        ;;
    delay)
        if kill -0 "$NFQ_PID" 2>/dev/null; then
            kill_pid "$NFQ_PID"
            echo "   $(grep "^nfq_delay: received" "$RUN_DIR/nfq.log") (the check probes included)"
        else
            echo "   WARNING: nfq_delay had exited before the end of the run: $(tail -1 "$RUN_DIR/nfq.log")"
        fi
        ;;
    esac
}

# One cold run: fresh namespace, hierarchy, resolver; impairment; the questions.
# Writes $STATE/result.MODE.RESOLVER.REP (answers) and $STATE/stats.MODE.RESOLVER.REP ("wall UDP
# SYN CPU stub-seconds").
cold_run() { # resolver mode rep
    local res=$1 mode=$2 id=$2.$1.$3 cpu0 cpu1 t0 t1 up stub
    run_begin "$mode-$res-$3"
    nsd_start
    stub=$(stub_cost)
    start_resolver "$res"
    if [ "$res" = tern ]; then echo "   tern cache config: $TERN_CACHE_NOTE"; fi
    impair "$mode"
    if [ "$mode" != none ]; then impairment_check; fi
    noise_check
    upstream_zero
    cpu0=$(cpu_secs "$RES_PID")
    t0=$(date +%s%N)
    ask_all "$STATE/result.$id"
    t1=$(date +%s%N)
    cpu1=$(cpu_secs "$RES_PID")
    up=$(upstream_read)
    impairment_report "$mode"
    local alive=yes
    kill -0 "$RES_PID" 2>/dev/null || alive="NO (exited during the run)"
    stop_resolver
    if [ "$res" = tern ]; then echo "   tern counters: $(tern_counters)"; fi
    echo "   resolver alive at the end: $alive; logged $(log_volume)"
    printf '%s %s %s %s\n' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')" \
        "$up" "$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN { printf "%.2f", b - a }')" \
        "$(awk -v c="$stub" -v n="$NQ" 'BEGIN { printf "%.1f", c * n }')" >"$STATE/stats.$id"
    run_teardown
}

# Compares a result file with the reference; prints the summary line and the wrong answers.
judge() { # mode resolver rep
    local mode=$1 res=$2 id=$1.$2.$3 label=$1 wall udp syn cpu stub
    if [ "$REPEAT" -gt 1 ]; then label+="#$3"; fi
    read -r wall udp syn cpu stub <"$STATE/stats.$id"
    local verdict
    local own=/dev/null # this resolver's own lossless answers, when that mode ran
    if [ "$mode" != none ] && [ -e "$STATE/result.none.$res.1" ]; then own=$STATE/result.none.$res.1; fi
    verdict=$(awk -F'\t' -v res="$res" '
        BEGIN {
            # By design, as tests/it/unbound_diff.rs EXPECTED: tern follows at most 10 CNAMEs
            # (PowerDNS'"'"'s limit); these chains have 12 and 11, which Unbound follows.
            if (res == "tern") { design["c1.alpha.test. A"] = "SERVFAIL"; design["c2.alpha.test. A"] = "SERVFAIL" }
        }
        FILENAME == ARGV[1] { ref[$1] = ($1 in design) ? design[$1] : $3; next }
        FILENAME == ARGV[2] { lossless[$1] = $3; next }
        {
            secs = $2 + 0; n++
            if (secs > 1.5) slow++
            if (n == 1 || secs > maxt) { maxt = secs; maxq = $1 }
            if ($3 == ref[$1]) ok++
            else {
                g = $3; e = ref[$1]
                if (length(g) > 150) g = substr(g, 1, 150) "..."
                if (length(e) > 150) e = substr(e, 1, 150) "..."
                same = ($1 in lossless && lossless[$1] == $3) ? "   (same answer without impairment)" : ""
                wrong = wrong sprintf("     %-40s got:      %s%s\n     %-40s expected: %s\n", $1, g, same, "", e)
            }
        }
        END {
            printf "%d %d %d %.3f %s\n", ok, n, slow, maxt, maxq
            printf "%s", wrong
        }' "$STATE/result.reference" "$own" "$STATE/result.$id")
    local ok n slow maxt maxq
    read -r ok n slow maxt maxq <<<"$(head -1 <<<"$verdict")"
    printf '   %-8s right %2d/%d  wall %5.1f s (%.1f s of it dig start-up)  upstream UDP %4d  TCP SYN %2d  CPU %5.2f s  answers > 1.5 s: %d, slowest %.2f s (%s)\n' \
        "$res" "$ok" "$n" "$wall" "$stub" "$udp" "$syn" "$cpu" "$slow" "$maxt" "$maxq"
    tail -n +2 <<<"$verdict" | sed '/^$/d'
    printf '%-9s %-8s %2d/%-3d %7.1f %7.1f %7d %7d %6.2f %6d %7.2f\n' "$label" "$res" "$ok" "$n" "$wall" "$stub" "$udp" "$syn" "$cpu" "$slow" "$maxt" >>"$STATE/table"
}

# ---------------------------------------------------------------------------------------------

for m in "${MODES[@]}"; do if [ "$m" = delay ]; then nfq_build; fi; done

echo "loss.sh: modes ${MODES[*]}; resolvers ${RESOLVER_LIST[*]}; $NQ questions from tests/bench/questions.txt"
echo "tern $TERN_DESC; $(unbound -V | head -1); NSD $(nsd -v 2>&1 | head -1 | awk '{ print $3 }'), rrl-ratelimit ${NSD_RRL}; pinning $([ "$PIN" = 1 ] && echo 'resolver CPU 1, NSD + dig CPU 0' || echo off)"
echo "stub: ${STUB[*]} NAME TYPE"
echo
echo "== reference: lossless cold Unbound run"
cold_run unbound none 1
cp "$STATE/result.none.unbound.1" "$STATE/result.reference"
echo "   reference rcodes: $(awk -F'\t' '{ split($3, a, " "); c[a[1]]++ } END { for (k in c) printf "%s %d  ", k, c[k] }' "$STATE/result.reference")"

: >"$STATE/table"
for mode in "${MODES[@]}"; do
    echo
    case $mode in
    none) echo "== mode none: no impairment (cold cache)" ;;
    loss10) echo "== mode loss10: 10 % random loss per packet, both directions (iptables statistic, OUTPUT)" ;;
    delay) echo "== mode delay: ${DELAY_MS} +- ${JITTER_MS} ms (uniform) per packet, both directions, so RTT +$((2 * DELAY_MS)) +- $((2 * JITTER_MS)) ms; ${DELAY_LOSS} loss per packet (nfq_delay)" ;;
    esac
    for ((r = 1; r <= REPEAT; r++)); do
        for res in "${RESOLVER_LIST[@]}"; do
            if [ "$mode" = none ] && [ "$res" = unbound ] && [ "$r" = 1 ]; then
                echo "-- unbound: the reference run above"
            else
                echo "-- $res$([ "$REPEAT" = 1 ] || echo ", run $r of $REPEAT")"
                cold_run "$res" "$mode" "$r"
            fi
            judge "$mode" "$res" "$r"
        done
    done
done

echo
echo "== summary (right: same rcode and answer RRs as the lossless Unbound reference; wall: the $NQ"
echo "   questions one after the other, of which 'dig s' is the start-up cost of $NQ digs)"
printf '%-9s %-8s %6s %7s %7s %7s %7s %6s %6s %7s\n' mode resolver right "wall s" "dig s" "up UDP" "TCP SYN" "CPU s" ">1.5s" "max s"
cat "$STATE/table"
