# shellcheck shell=bash
# Servers and question sets shared by hits.sh, saturation.sh and hit_instructions.sh (sourced
# after lib.sh, whose namespaces, NSD hierarchy, pinning and CPU helpers it uses).
#
# Targets (each in its own fresh network namespace, listening on 127.0.0.53:53, started with
# the pinning prefix of lib.sh: CPU 1 for the server, CPU 0 for NSD's hierarchy and dnsperf):
#   echo        tests/bench/udp_echo.c, the kernel floor: recvfrom, set QR, sendto
#   tern        `tern serve` recursive over the NSD hierarchy of lib.sh, cache warmed (hits)
#   unbound     Unbound, one thread, over the same hierarchy, cache warmed (hits)
#   tern-auth   `tern serve --no-recursion` serving AUTH_ZONES from zones/hierarchy
#   nsd         NSD (`server-count: 1`, `rrl-ratelimit: 0`) serving the same zones
# Question sets:
#   recursive   tests/bench/questions.txt minus REC_SKIP: 60 questions that resolve in the lab
#               and stay in the cache (no SERVFAIL, no truncation, no 5 s TTL)
#   auth        tests/bench/auth_questions.txt: 46 questions over AUTH_ZONES
#
# Sets (for the scripts that source this file): TARGET_QFILE (the question file for the target),
# TARGET_DESC (one line about it), SERVER_PIDS (the processes whose CPU time counts), and
# RES_PID/RES_LOG as lib.sh does.
#
# Knobs (environment) for the servers of target_start (threads.sh sets them per run):
#   TERN_SERVER="K = V; ..."  lines added to tern's [server] table, tern and tern-auth alike
#                             (e.g. "threads = 2", "busy_poll_us = 50"); tern is started again
#                             with them before the warm-up (not under RES_WRAP)
#   UNBOUND_THREADS=N         Unbound's num-threads (default 1), so-reuseport: yes
#   NSD_SERVERS=N             the nsd target's server-count (default 1), reuseport: yes past 1

# shellcheck disable=SC2034
ALL_TARGETS="echo tern unbound tern-auth nsd"
AUTH_ZONES=(alpha.test. deep.alpha.test. beta.example. glueless.test.)
# Left out of the recursive set, with why:
REC_SKIP=(
    "c1.alpha.test. A"       # a chain of 12 CNAMEs: SERVFAIL from tern (10-CNAME limit), not kept
    "c2.alpha.test. A"       # 11 CNAMEs: the same
    "loop1.alpha.test. A"    # a CNAME loop: SERVFAIL
    "big.big.test. TXT"      # bigger than 512 bytes: TC over UDP without EDNS (dnsperf sends none)
    "short-ttl.alpha.test. A" # TTL 5 s: expires during a run, a miss every 5 s
    "nope.silent.test. A"    # negative answers from silent.test. cost a timeout at warm-up
    "silent.test. NS"        #   (ns-dead never answers); www.silent.test. A stays in
)

# Writes the two question files into $STATE (rec.queries, auth.queries) and checks their size.
hits_questions() {
    local skip
    skip=$(printf '%s\n' "${REC_SKIP[@]}")
    grep -v '^[[:space:]]*\(#\|$\)' "$BENCH_DIR/questions.txt" | grep -v -x -F -f <(echo "$skip") \
        >"$STATE/rec.queries"
    grep -v '^[[:space:]]*\(#\|$\)' "$BENCH_DIR/auth_questions.txt" >"$STATE/auth.queries"
    local nr na
    nr=$(wc -l <"$STATE/rec.queries")
    na=$(wc -l <"$STATE/auth.queries")
    [ "$nr" -eq 60 ] || die "expected 60 recursive questions, got $nr (questions.txt changed?)"
    [ "$na" -eq 46 ] || die "expected 46 authoritative questions, got $na"
}

# Compiles udp_echo.c into $STATE (once per invocation).
hits_build_echo() {
    [ -x "$STATE/udp_echo" ] && return 0
    cc -O2 -o "$STATE/udp_echo" "$BENCH_DIR/udp_echo.c" || die "cannot compile udp_echo.c"
}

# The processes whose CPU time is the server's: RES_PID, plus for NSD every process that holds
# its UDP socket (NSD re-forks its serving child after loading the zones, so the PID started is
# not the one that answers; see shared/PEERS.md).
server_pids() {
    local p pids=("$RES_PID")
    while read -r p; do
        [ -n "$p" ] && [ "$p" != "$RES_PID" ] && pids+=("$p")
    done < <(nsx ss -Hlunp "src $RESOLVER_ADDR:53" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
    echo "${pids[@]}"
}

cpu_ticks_of() { # pid... -> utime+stime in clock ticks summed over the processes (all threads)
    local p u k t=0
    for p in "$@"; do
        read -r u k <<<"$(split_ticks "$p")"
        t=$((t + u + k))
    done
    echo "$t"
}

start_echo() {
    RES_LOG=$RUN_DIR/echo.log
    # shellcheck disable=SC2046
    ip netns exec "$RUN_NS" $(pin_res) "$STATE/udp_echo" "$RESOLVER_ADDR" 53 </dev/null >"$RES_LOG" 2>&1 &
    RES_PID=$!
    RUN_PIDS+=("$RES_PID")
    wait_listening || {
        cat "$RES_LOG" >&2
        die "udp_echo did not start"
    }
}

start_tern_auth() {
    RES_LOG=$RUN_DIR/tern.log
    local z args=()
    for z in "${AUTH_ZONES[@]}"; do args+=(--zone "$z=$HIER/${z%.}.zone"); done
    if [ -n "${TERN_SERVER:-}" ]; then
        echo "[server]" >"$RUN_DIR/tern-auth.toml"
        tern_server_lines "$RUN_DIR/tern-auth.toml"
        args+=(--config "$RUN_DIR/tern-auth.toml")
    fi
    # shellcheck disable=SC2046,SC2086
    NO_COLOR=1 ip netns exec "$RUN_NS" $(pin_res) ${RES_WRAP:-} "$TERN" serve --no-recursion \
        --listen "$RESOLVER_ADDR:53" "${args[@]}" --log-level warn </dev/null >"$RUN_DIR/tern.out" 2>"$RES_LOG" &
    RES_PID=$!
    RUN_PIDS+=("$RES_PID")
    wait_listening || {
        cat "$RES_LOG" >&2
        die "tern --no-recursion did not start"
    }
}

start_nsd_auth() {
    local d=$RUN_DIR/nsd z
    mkdir -p "$d"
    RES_LOG=$d/nsd.log
    {
        cat <<CONF
server:
  ip-address: $RESOLVER_ADDR
  port: 53
  do-ip6: no
  server-count: ${NSD_SERVERS:-1}
$([ "${NSD_SERVERS:-1}" = 1 ] || echo "  reuseport: yes")
  verbosity: 0
  username: ""
  chroot: ""
  zonesdir: "$HIER"
  pidfile: "$d/nsd.pid"
  database: ""
  zonelistfile: "$d/zone.list"
  xfrdfile: "$d/xfrd.state"
  xfrdir: "$d"
  logfile: "$d/nsd.log"
  refuse-any: no
  rrl-ratelimit: 0
remote-control:
  control-enable: no
CONF
        for z in "${AUTH_ZONES[@]}"; do
            printf 'zone:\n  name: "%s"\n  zonefile: "%s.zone"\n' "$z" "${z%.}"
        done
    } >"$d/nsd.conf"
    # shellcheck disable=SC2046
    ip netns exec "$RUN_NS" $(pin_res) nsd -d -c "$d/nsd.conf" </dev/null >"$d/stderr" 2>&1 &
    RES_PID=$!
    RUN_PIDS+=("$RES_PID")
    wait_listening || {
        cat "$d/stderr" "$RES_LOG" >&2 2>/dev/null
        die "nsd did not start"
    }
    # Listening is not serving yet: wait until it answers from the zones.
    local i
    for ((i = 0; i < 50; i++)); do
        [ "$(nsx dig @"$RESOLVER_ADDR" +time=1 +tries=1 +short www.alpha.test A 2>/dev/null)" = 127.0.0.100 ] && return 0
        sleep 0.1
    done
    die "nsd does not answer www.alpha.test A"
}

# Appends TERN_SERVER's settings ("K = V; ...") to FILE, or inserts them after its `listen`
# line (the [server] table of lib.sh's tern_config) when it has one.
tern_server_lines() { # file
    tr ';' '\n' <<<"$TERN_SERVER" | sed 's/^ *//' >"$RUN_DIR/tern-server.lines"
    if grep -q '^listen = ' "$1"; then
        sed -i "/^listen = /r $RUN_DIR/tern-server.lines" "$1"
    else
        cat "$RUN_DIR/tern-server.lines" >>"$1"
    fi
}

unbound_threads() { # file
    sed -i "s/^  num-threads: 1\$/  num-threads: $UNBOUND_THREADS\n  so-reuseport: yes/" "$1"
}

# Applies TERN_SERVER or UNBOUND_THREADS to the resolver just started (restarted with them).
resolver_knobs() { # tern|unbound
    if [ "$1" = tern ] && [ -n "${TERN_SERVER:-}" ]; then
        restart_resolver_edited tern tern_server_lines
    elif [ "$1" = unbound ] && [ "${UNBOUND_THREADS:-1}" != 1 ]; then
        restart_resolver_edited unbound unbound_threads
    fi
}

# Starts TARGET in a fresh namespace (run name PREFIX-TARGET) and warms it: the question set is
# asked twice, then once more one at a time with dnsperf -v to record what each question gets.
target_start() { # target prefix
    local t=$1
    run_begin "$2-$t"
    case $t in
    echo)
        start_echo
        TARGET_QFILE=$STATE/rec.queries
        TARGET_DESC="echo: udp_echo.c (cc -O2), the kernel's UDP path alone"
        ;;
    tern | unbound)
        nsd_start
        start_resolver "$t"
        resolver_knobs "$t"
        TARGET_QFILE=$STATE/rec.queries
        TARGET_DESC="$t: recursive, cache hits over the NSD hierarchy (60 questions)"
        ;;
    tern-auth)
        start_tern_auth
        TARGET_QFILE=$STATE/auth.queries
        TARGET_DESC="tern-auth: tern serve --no-recursion, ${#AUTH_ZONES[@]} zones (46 questions)"
        ;;
    nsd)
        start_nsd_auth
        TARGET_QFILE=$STATE/auth.queries
        TARGET_DESC="nsd: NSD server-count ${NSD_SERVERS:-1}, rrl-ratelimit 0, the same zones (46 questions)"
        ;;
    *) die "unknown target $t (one of: $ALL_TARGETS)" ;;
    esac
    target_warm
    read -r -a SERVER_PIDS <<<"$(server_pids)"
}

# Warm-up, bounded: every question twice (cold misses for the resolvers), then once at a time
# with -v into $RUN_DIR/warm.v (the rcode each question gets once warm).
target_warm() {
    local tmo=120
    if [ -n "${RES_WRAP:-}" ]; then tmo=600; fi
    # shellcheck disable=SC2046
    nsx $(pin_aux) timeout -k 5 "$tmo" dnsperf -s "$RESOLVER_ADDR" -d "$TARGET_QFILE" -n 2 -c 1 -q 10 -t 10 \
        >"$RUN_DIR/warm.out" 2>&1 || log "warning: warm-up dnsperf exited non-zero"
    # shellcheck disable=SC2046
    nsx $(pin_aux) timeout -k 5 "$tmo" dnsperf -s "$RESOLVER_ADDR" -d "$TARGET_QFILE" -n 1 -c 1 -q 1 -t 10 -v \
        >"$RUN_DIR/warm.v" 2>&1 || log "warning: warm-check dnsperf exited non-zero"
}

# "NOERROR 52, NXDOMAIN 8" for the warm pass, and the questions that got anything else.
warm_summary() {
    local codes odd
    codes=$(awk '$1 == ">" { n[$2]++ } END { for (c in n) printf "%s %d\n", c, n[c] }' "$RUN_DIR/warm.v" |
        sort -k2,2nr | paste -sd, - | sed 's/,/, /g')
    odd=$(awk '$1 == ">" && $2 != "NOERROR" && $2 != "NXDOMAIN" { printf "%s%s %s %s", sep, $3, $4, $2; sep = "; " }' "$RUN_DIR/warm.v")
    echo "warm pass: ${codes:-no answers}${odd:+ (other: $odd)}"
}

perf_field() { # file label -> first number after "label:"
    awk -v l="$2:" 'i = index($0, l) { $0 = substr($0, i + length(l)); print $1 + 0; exit }' "$1"
}

# Percentiles of the per-query latencies in a dnsperf -v output (timed-out queries, "T", are
# left out; they are counted as lost): "p50 p90 p99 p99.9 max" in milliseconds.
latency_percentiles() { # file
    awk '$1 == ">" && $2 != "T" && $2 != "I" && NF >= 5 { print $NF * 1000 }' "$1" | sort -g |
        awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "- - - - -"; exit }
            split("0.50 0.90 0.99 0.999", q, " ")
            for (i = 1; i <= 4; i++) { k = int(q[i] * NR + 0.999999); if (k < 1) k = 1; if (k > NR) k = NR; printf "%.3f ", v[k] }
            printf "%.3f\n", v[NR] }'
}
