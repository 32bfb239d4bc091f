#!/usr/bin/env bash
# Benchmark: DNS over TLS, tern beside Unbound's own DoT listener, from one invocation.
#
#   bash tests/bench/dot.sh [RATE] [SECS]       defaults: 10000 q/s for 10 s
#   SMOKE=1 bash tests/bench/dot.sh             a short run that checks the script end to end
#
# Three servers, one after another: tern, Unbound as packaged, and the same Unbound with
# TCP_NODELAY on its DoT connections (nodelay_preload.c, an LD_PRELOAD shim compiled for the run),
# which Unbound itself sets since 1.22.0: without it (1.17), an answer written while the previous
# one is unacknowledged waits for the client's next query to bring the ACK (Nagle's algorithm),
# about a query interval later, and is then sent inside the client's system call, on the client's
# CPU. Each runs in its own fresh network namespace (lib.sh), recursive over the NSD
# hierarchy, UDP on 127.0.0.53:53 and DoT on 127.0.0.53:853 with a P-256 certificate made by
# openssl for the run, pinned to CPU 1 (clients and NSD on CPU 0). Warmed over UDP (lib_hits.sh:
# the 60 questions that stay cached), then:
#   1. kept connections: dnsperf -m dot -c 10 -Q RATE -l SECS over the warm questions (cache
#      hits); answered/s, server CPU seconds per answered query (utime+stime from /proc/PID/stat
#      before and after), errors (lost + not NOERROR/NXDOMAIN); dnsperf's average latency, each
#      CPU's busy share and the IPIs each CPU took per answer (a wake-up of a thread whose CPU
#      sleeps is one);
#   2. new connections: openssl s_time -new (a full TLS handshake per connection, then close,
#      one after another) for STIME_SECS; new connections per second and server CPU per
#      handshake. One s_time client is the limit when it is busier than the server: both CPU
#      figures are printed so it can be seen which side was;
#   3. (tern only) memory of idle connections: idle_tls.py opens IDLE_CONNS DoT connections
#      (handshake and one query each) and holds them; tern's VmRSS before and after, per
#      connection; then IDLE_MORE more, and the count tern holds (ss, established on :853)
#      must stay within its cap (tcp_max_connections = IDLE_CONNS), the idle-longest closed.
#
# Knobs (environment): lib.sh's (PIN, TERN_BIN, BUILD, KEEP_STATE, NSD_RRL), STIME_SECS (5),
# PROFILE=1 (perf record -g of the server during the kept connections, kept with KEEP_STATE=1),
# IDLE_CONNS (10000), IDLE_MORE (1000), SMOKE=1 (RATE 1000, SECS 2, STIME_SECS 1, 200 + 50 idle).
# Every loop is bounded in count and time. This machine is shared: figures are noisy, compare
# within one run. Needs root, a C compiler, dnsperf (with -m dot), nsd, unbound, dig, openssl, python3 >= 3.11,
# iproute2, iptables, taskset, ss.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=tests/bench/lib_hits.sh
source "$BENCH_DIR/lib_hits.sh"

if [ "${SMOKE:-0}" = 1 ]; then
    RATE=${1:-1000} SECS=${2:-2} STIME_SECS=1 IDLE_CONNS=200 IDLE_MORE=50
else
    RATE=${1:-10000} SECS=${2:-10}
    STIME_SECS=${STIME_SECS:-5} IDLE_CONNS=${IDLE_CONNS:-10000} IDLE_MORE=${IDLE_MORE:-1000}
fi
for v in "$RATE" "$SECS" "$STIME_SECS" "$IDLE_CONNS" "$IDLE_MORE"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "usage: dot.sh [RATE] [SECS] (positive integers; knobs too)"
done
[ "$IDLE_CONNS" -le 15000 ] && [ "$IDLE_MORE" -le 5000 ] || die "IDLE_CONNS <= 15000, IDLE_MORE <= 5000"
DOT_PORT=853

bench_require cc dnsperf nsd unbound dig openssl iptables ip taskset ss timeout
# Captured first: grep -q quitting early would fail the pipe (pipefail) with SIGPIPE.
perf_help=$(dnsperf -h 2>&1 || true)
grep -q 'dot' <<<"$perf_help" || die "this dnsperf has no -m dot"
bench_init
bench_tern_binary
hits_questions
cc -shared -fPIC -O2 -o "$STATE/nodelay_preload.so" "$BENCH_DIR/nodelay_preload.c" -ldl ||
    die "cannot compile nodelay_preload.c"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=tern.test \
    -addext subjectAltName=DNS:tern.test -addext basicConstraints=critical,CA:FALSE -days 1 \
    -keyout "$STATE/dot.key" -out "$STATE/dot.crt" 2>/dev/null || die "openssl could not make a certificate"

# tern's config as lib.sh writes it, plus the caps of this run and DoT.
tern_dot() { # max_connections idle_timeout_ms file
    sed -i "/^\[server\]$/a tcp_max_connections = $1\ntcp_max_connections_per_prefix = $1\ntcp_idle_timeout_ms = $2" "$3"
    printf '[tls]\ncertificate = "%s"\nkey = "%s"\nlisten = ["%s:%s"]\n' \
        "$STATE/dot.crt" "$STATE/dot.key" "$RESOLVER_ADDR" "$DOT_PORT" >>"$3"
}

# Unbound's config as lib.sh writes it (one thread, 4m caches), plus its DoT listener and room
# for more than its default 10 TCP clients.
unbound_dot() { # file
    sed -i "/^server:$/a \  interface: $RESOLVER_ADDR@$DOT_PORT\n  tls-port: $DOT_PORT\n  tls-service-key: \"$STATE/dot.key\"\n  tls-service-pem: \"$STATE/dot.crt\"\n  incoming-num-tcp: 1000" "$1"
}

start_dot() { # tern|unbound|unbound-nodelay [max_connections idle_timeout_ms]
    case $1 in
    tern)
        start_resolver tern
        restart_resolver_edited tern tern_dot "$2" "$3"
        ;;
    unbound)
        start_resolver unbound
        restart_resolver_edited unbound unbound_dot
        ;;
    unbound-nodelay)
        RES_WRAP="env LD_PRELOAD=$STATE/nodelay_preload.so" start_dot unbound
        ;;
    esac
}

dot_listening() { # true once something listens on the DoT port (at most 10 s)
    local i
    for ((i = 0; i < 100; i++)); do
        nsx ss -Hltn "src $RESOLVER_ADDR:$DOT_PORT" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

ipis() { # "RES CAL" interrupts (rescheduling, function call) taken so far, summed over CPUs
    awk '$1 == "RES:" || $1 == "CAL:" { s = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i; n[$1] = s }
        END { print n["RES:"] + 0, n["CAL:"] + 0 }' /proc/interrupts
}

interrupts_by_cpu() { # before after answers: "CAL cpu0/cpu1, RES …, TLB …" per answer, from two /proc/interrupts
    awk -v a="$3" 'FNR == 1 { f++; next }
        $1 == "CAL:" || $1 == "RES:" || $1 == "TLB:" {
            for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) { if (f == 1) b[$1, i] = $i; else d[$1, i] = $i - b[$1, i] }; n = i - 1 }
        END { sep = ""; split("CAL: RES: TLB:", k, " ")
            for (j = 1; j <= 3; j++) { line = substr(k[j], 1, 3); s = " "
                for (i = 2; i <= n; i++) { line = line s sprintf("%.2f", a > 0 ? d[k[j], i] / a : 0); s = "/" }
                printf "%s%s", sep, line; sep = ", " } }' "$1" "$2"
}

cpus_busy() { # before after: each CPU's busy share (not idle, iowait or steal) between two /proc/stat
    awk 'FNR == 1 { f++ } $1 ~ /^cpu[0-9]+$/ { t = 0; for (i = 2; i <= 9; i++) t += $i; idle = $5 + $6 + $9
            if (f == 1) { bt[$1] = t; bi[$1] = idle } else { dt = t - bt[$1]; printf "%s%s %.0f%%", sep, $1, (dt > 0 ? 100 * (dt - (idle - bi[$1])) / dt : 0); sep = ", " } }' "$1" "$2"
}

dot_established() { # connections the server holds established on the DoT port
    nsx ss -Htn state established "( sport = :$DOT_PORT )" 2>/dev/null | wc -l
}

echo "dot.sh: $RATE q/s for $SECS s over kept DoT connections; s_time $STIME_SECS s; idle: $IDLE_CONNS + $IDLE_MORE (tern)"
echo "tern $TERN_DESC; $(unbound -V | head -1) (1 thread); $(openssl version); kernel $(uname -r)"
echo "NOTE: a shared, noisy machine; compare within this run only"
[ "$PIN" = 1 ] || echo "pinning: off"

ROWS=()
NOTES=()
declare -A PER_ANSWER # server -> µs of its CPU per answer over the kept connections
for t in tern unbound unbound-nodelay; do
    run_begin "dot-$t"
    nsd_start
    start_dot "$t" 1000 10000
    dot_listening || die "$t does not listen on $DOT_PORT"
    TARGET_QFILE=$STATE/rec.queries
    target_warm
    noise=$(noise_check)

    # 1. Kept connections.
    read -r u0 k0 <<<"$(split_ticks "$RES_PID")"
    x0=$(switches_of "$RES_PID")
    read -r r0 f0 <<<"$(ipis)"
    cp /proc/interrupts "$RUN_DIR/interrupts.0"
    cp /proc/stat "$RUN_DIR/stat.0"
    PERF_PID=
    if [ "${PROFILE:-0}" = 1 ]; then
        perf record -q -F 4000 -g -p "$RES_PID" -o "$RUN_DIR/kept.perf" >/dev/null 2>&1 &
        PERF_PID=$!
        RUN_PIDS+=("$PERF_PID")
    fi
    # shellcheck disable=SC2046
    nsx $(pin_aux) timeout -k 5 $((SECS + 30)) dnsperf -m dot -s "$RESOLVER_ADDR" -p "$DOT_PORT" \
        -d "$TARGET_QFILE" -Q "$RATE" -c 10 -q 200 -T 1 -l "$SECS" >"$RUN_DIR/dnsperf.out" 2>&1 ||
        log "warning: dnsperf exited non-zero for $t"
    read -r u1 k1 <<<"$(split_ticks "$RES_PID")"
    x1=$(switches_of "$RES_PID")
    read -r r1 f1 <<<"$(ipis)"
    cp /proc/interrupts "$RUN_DIR/interrupts.1"
    cp /proc/stat "$RUN_DIR/stat.1"
    if [ -n "$PERF_PID" ]; then
        kill -INT "$PERF_PID" 2>/dev/null || true
        wait "$PERF_PID" 2>/dev/null || true
        NOTES+=("$t: perf profile of the kept connections in $RUN_DIR/kept.perf (KEEP_STATE=1 keeps it)")
    fi
    p=$RUN_DIR/dnsperf.out
    sent=$(perf_field "$p" "Queries sent")
    answered=$(perf_field "$p" "Queries completed")
    lost=$(perf_field "$p" "Queries lost")
    qps=$(perf_field "$p" "Queries per second")
    good=$(grep -o -E '(NOERROR|NXDOMAIN) [0-9]+' "$p" | awk '{ s += $2 } END { print s + 0 }')
    [ -n "$sent" ] && [ "$sent" != 0 ] || {
        cat "$p" >&2
        die "dnsperf sent nothing over DoT to $t"
    }

    # 2. New connections, one after another.
    h0=$(cpu_ticks_of "$RES_PID")
    w0=$(date +%s.%N)
    # shellcheck disable=SC2046
    nsx $(pin_aux) timeout -k 5 $((STIME_SECS + 30)) openssl s_time -connect "$RESOLVER_ADDR:$DOT_PORT" \
        -new -time "$STIME_SECS" >"$RUN_DIR/s_time.out" 2>&1 || log "warning: s_time exited non-zero for $t"
    h1=$(cpu_ticks_of "$RES_PID")
    w1=$(date +%s.%N)
    # s_time's own "real seconds" are whole seconds: the wall clock around it is finer.
    conns=$(awk '/connections in [0-9.]+ real seconds/ { print $1; exit }' "$RUN_DIR/s_time.out")
    real=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.2f", b - a }')
    user_s=$(awk '/connections in [0-9.]+s;/ { sub("s;", "", $4); print $4; exit }' "$RUN_DIR/s_time.out")

    ROWS+=("$(awk -v t="$t" -v s="$sent" -v a="$answered" -v l="$lost" -v g="$good" -v q="$qps" \
        -v ticks=$((u1 - u0 + k1 - k0)) -v hz="$HZ" -v n="${conns:-0}" -v r="${real:-0}" -v hticks=$((h1 - h0)) -v cu="${user_s:-0}" 'BEGIN {
            cpu = ticks / hz; hcpu = hticks / hz
            printf "%-15s %8d %8d %9.0f %9.2f %7d %8.0f %9.3f %9.3f", t, s, a, q, (a > 0 ? 1e6 * cpu / a : 0),
                l + (a - g), (r > 0 ? n / r : 0), (n > 0 ? 1e3 * hcpu / n : 0), (n > 0 ? 1e3 * cu / n : 0) }')")
    PER_ANSWER[$t]=$(awk -v a="$answered" -v ticks=$((u1 - u0 + k1 - k0)) -v hz="$HZ" 'BEGIN { printf "%.2f", (a > 0 ? 1e6 * ticks / hz / a : 0) }')
    codes=$(grep -o -E '(NOERROR|SERVFAIL|NXDOMAIN|REFUSED|FORMERR|NOTIMP) [0-9]+ \([0-9.]+%\)' "$p" | paste -sd, - | sed 's/,/, /g' || true)
    NOTES+=("$t: rcodes ${codes:-none}; $(warm_summary); s_time: ${conns:-?} connections in ${real:-?} s")
    # Where the kept connections' CPU went: user and kernel time per answer, the server's
    # context switches per answer, and the machine's rescheduling/function-call IPIs per answer
    # (every CPU: a wake-up of a sleeping thread on the other CPU is one).
    NOTES+=("$(awk -v t="$t" -v a="$answered" -v u=$((u1 - u0)) -v k=$((k1 - k0)) -v x=$((x1 - x0)) \
        -v r=$((r1 - r0)) -v f=$((f1 - f0)) -v hz="$HZ" 'BEGIN { if (a > 0) printf "%s kept connections: user %.1f µs + kernel %.1f µs per answer; %.2f context switches, %.2f rescheduling and %.2f function-call IPIs per answer", t, 1e6 * u / hz / a, 1e6 * k / hz / a, x / a, r / a, f / a }')")
    NOTES+=("$t kept connections, interrupts per answer by CPU: $(interrupts_by_cpu "$RUN_DIR/interrupts.0" "$RUN_DIR/interrupts.1" "$answered"); CPUs busy $(cpus_busy "$RUN_DIR/stat.0" "$RUN_DIR/stat.1"); average latency $(awk '/Average Latency/ { print $4 " s"; exit }' "$p")")
    [ -z "$noise" ] || NOTES+=("${noise/   /  }")
    stop_resolver
    run_teardown
done

echo
printf '%-15s %8s %8s %9s %9s %7s %8s %9s %9s\n' server sent answered "answ/s" "µs CPU/q" errors "new c/s" "ms CPU/c" "client ms"
printf '%s\n' "${ROWS[@]}"
echo "  (µs CPU/q: server CPU per answered query over kept connections; errors: lost + rcodes other"
echo "   than NOERROR/NXDOMAIN; new c/s: s_time handshakes per second, one client; ms CPU/c: server"
echo "   CPU per new connection; client ms: s_time's own CPU per connection, the client's limit)"
for u in unbound unbound-nodelay; do
    awk -v t="${PER_ANSWER[tern]}" -v u="${PER_ANSWER[$u]}" -v n="$u" 'BEGIN { if (u > 0) printf "tern ÷ %s, CPU per answer over kept connections: %.2f ×\n", n, t / u }'
done
echo
printf '%s\n' "${NOTES[@]}"
# 3. Idle connections to tern, capped at IDLE_CONNS.
run_begin "dot-idle"
nsd_start
start_dot tern "$IDLE_CONNS" 120000
dot_listening || die "tern does not listen on $DOT_PORT"
rss0=$(rss_kb "$RES_PID" VmRSS)
hold=3
# shellcheck disable=SC2046
nsx $(pin_aux) timeout -k 5 300 python3 "$BENCH_DIR/idle_tls.py" "$RESOLVER_ADDR" "$DOT_PORT" \
    "$IDLE_CONNS" "$IDLE_MORE" "$hold" 200 >"$RUN_DIR/idle.out" 2>&1 &
IDLE_PID=$!
RUN_PIDS+=("$IDLE_PID")
wait_phase() { # phase: wait (bounded, 300 s) for idle_tls.py to print it
    local i
    for ((i = 0; i < 3000; i++)); do
        grep -q "^$1 " "$RUN_DIR/idle.out" 2>/dev/null && return 0
        kill -0 "$IDLE_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
wait_phase phase1 || {
    cat "$RUN_DIR/idle.out" >&2
    die "idle_tls.py never finished its first phase"
}
rss1=$(rss_kb "$RES_PID" VmRSS)
held1=$(dot_established)
wait_phase phase2 || {
    cat "$RUN_DIR/idle.out" >&2
    die "idle_tls.py never finished its second phase"
}
rss2=$(rss_kb "$RES_PID" VmRSS)
held2=$(dot_established)
wait "$IDLE_PID" 2>/dev/null || true
phase1=$(grep '^phase1 ' "$RUN_DIR/idle.out")
phase2=$(grep '^phase2 ' "$RUN_DIR/idle.out")
opened1=$(sed -n 's/.*opened=\([0-9]*\).*/\1/p' <<<"$phase1")
stop_resolver
run_teardown

echo
echo "idle DoT connections to tern (tcp_max_connections = $IDLE_CONNS, idle timeout 120 s):"
echo "  idle_tls.py $phase1 -> tern holds $held1 established; VmRSS $(mb "$rss0") MiB -> $(mb "$rss1") MiB" \
    "($(awk -v a="$rss0" -v b="$rss1" -v n="${opened1:-0}" 'BEGIN { printf "%.1f", (n > 0 ? (b - a) / n : 0) }') KiB per connection)"
echo "  then $IDLE_MORE more: idle_tls.py $phase2 -> tern holds $held2 established (cap $IDLE_CONNS); VmRSS $(mb "$rss2") MiB"
if [ "$held2" -le "$IDLE_CONNS" ]; then echo "  within the cap: yes"; else echo "  within the cap: NO"; fi
