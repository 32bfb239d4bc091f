#!/usr/bin/env bash
# Benchmark: scale-out, dnsdist spreading queries over two authoritative terns.
#
#   bash tests/bench/scaleout.sh [RATE] [SECS] [POLICY]   defaults: 20000 q/s, 5 s, roundrobin
#   bash tests/bench/scaleout.sh 20000 5 leastOutstanding
#
# On the host's loopback (no namespace), 127.223.1.0/24 (the scale-out test uses 127.223.0.x):
#   - two `tern serve --no-recursion` on 127.223.1.1:53 and 127.223.1.2:53, serving the same
#     zone scale.test. (a wildcard answers every name in it);
#   - dnsdist (`--supervised --disable-syslog`) on 127.223.1.10:53 with both as backends,
#     setServerPolicy(POLICY), no packet cache, no console, no web server, no security polling,
#     health checks `health.scale.test. A` once a second (each one counted in a file by its
#     checkFunction, so that the split below is of the forwarded queries only);
#   - a third tern on 127.223.1.3:53, the baseline: the same load straight to one tern.
# dnsperf offers the load through dnsdist, then to the baseline:
#   dnsperf -s 127.223.1.10 -d FILE -l SECS -Q RATE          (FILE: 100000 distinct names, A)
# Printed: dnsperf's completed/lost queries and queries/s, each tern's share of the forwarded
# queries (its shutdown `queries` counter minus the health checks it got), and the CPU seconds
# (utime+stime) dnsdist and each tern used during the run.
#
# Knobs (environment): TERN_BIN, BUILD, KEEP_STATE (see lib.sh).
# Needs root (port 53), dnsdist, dnsperf, dig. Stops only the processes it started, by PID.
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"

RATE=${1:-20000}
SECS=${2:-5}
POLICY=${3:-roundrobin}
for v in "$RATE" "$SECS"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || die "usage: scaleout.sh [RATE] [SECS] [POLICY] (positive integers)"
done
case $POLICY in
roundrobin | leastOutstanding | firstAvailable | wrandom | whashed | chashed) ;;
*) die "unknown dnsdist policy $POLICY" ;;
esac

NET=127.223.1
FRONT=$NET.10
BACKS=("$NET.1" "$NET.2")
BASE=$NET.3

bench_require dnsdist dnsperf dig timeout
bench_init
bench_tern_binary
RUN_DIR=$STATE/run
mkdir -p "$RUN_DIR"

cat >"$RUN_DIR/scale.test.zone" <<ZONE
\$ORIGIN scale.test.
\$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 60
@ NS ns1
ns1 A $NET.1
health A $NET.99
* A $NET.200
ZONE
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "q%d.bench.scale.test A\n", i }' >"$RUN_DIR/names"

answers() { # addr: true once the server there answers q.scale.test A with the wildcard
    [ "$(dig @"$1" +time=1 +tries=1 +short q.scale.test A 2>/dev/null)" = "$NET.200" ]
}

wait_answers() { # addr pid log (bounded: 5 s)
    local i
    for ((i = 0; i < 50; i++)); do
        answers "$1" && return 0
        kill -0 "$2" 2>/dev/null || break
        sleep 0.1
    done
    cat "$3" >&2
    die "nothing answers on $1"
}

TERN_PIDS=()
start_tern() { # addr name
    "$TERN" serve --no-recursion --log-level warn --listen "$1:53" \
        --zone "scale.test.=$RUN_DIR/scale.test.zone" </dev/null >/dev/null 2>"$RUN_DIR/$2.err" &
    RUN_PIDS+=($!)
    TERN_PIDS+=($!)
    wait_answers "$1" $! "$RUN_DIR/$2.err"
}
start_tern "${BACKS[0]}" tern-1
start_tern "${BACKS[1]}" tern-2
start_tern "$BASE" baseline

{
    echo 'setSecurityPollSuffix("")'
    echo "setLocal(\"$FRONT:53\")"
    echo 'setVerboseHealthChecks(true)'
    cat <<'LUA'
local function counted(file)
  return function(qname, qtype, qclass, dh)
    local f = io.open(file, "a")
    f:write("check\n")
    f:close()
    return qname, qtype, qclass
  end
end
LUA
    for i in 0 1; do
        echo "newServer{address=\"${BACKS[$i]}:53\", name=\"tern-$((i + 1))\", pool=\"\"," \
            "checkName=\"health.scale.test.\", mustResolve=true, checkInterval=1," \
            "checkFunction=counted(\"$RUN_DIR/checks.tern-$((i + 1))\")}"
    done
    echo "setServerPolicy($POLICY)"
} >"$RUN_DIR/dnsdist.conf"
dnsdist --supervised --disable-syslog -C "$RUN_DIR/dnsdist.conf" </dev/null \
    >"$RUN_DIR/dnsdist.out" 2>"$RUN_DIR/dnsdist.err" &
DNSDIST_PID=$!
RUN_PIDS+=("$DNSDIST_PID")
for ((i = 0; i < 50; i++)); do
    [ "$(grep -c "as 'up'" "$RUN_DIR/dnsdist.out" 2>/dev/null)" -ge 2 ] && break
    kill -0 "$DNSDIST_PID" 2>/dev/null || break
    sleep 0.1
done
[ "$(grep -c "as 'up'" "$RUN_DIR/dnsdist.out" 2>/dev/null)" -ge 2 ] || {
    cat "$RUN_DIR/dnsdist.out" "$RUN_DIR/dnsdist.err" >&2
    die "dnsdist did not mark both terns up"
}
wait_answers "$FRONT" "$DNSDIST_PID" "$RUN_DIR/dnsdist.err"

perf_field() { # file label -> first number after "label:"
    awk -v l="$2:" 'i = index($0, l) { $0 = substr($0, i + length(l)); print $1 + 0; exit }' "$1"
}
perf() { # name addr [pid...]: one dnsperf run, its summary line, CPU seconds of the pids
    local name=$1 addr=$2 p before=() i=0 cpu=""
    shift 2
    for p in "$@"; do before+=("$(cpu_secs "$p")"); done
    timeout -k 5 $((SECS + 30)) dnsperf -s "$addr" -d "$RUN_DIR/names" -l "$SECS" -Q "$RATE" \
        >"$RUN_DIR/$name.perf" 2>&1 || log "warning: dnsperf exited non-zero ($name)"
    for p in "$@"; do
        cpu+=$(awk -v a="${before[$i]}" -v b="$(cpu_secs "$p")" 'BEGIN { printf " %.2f", b - a }')
        i=$((i + 1))
    done
    local f=$RUN_DIR/$name.perf
    printf '%-16s sent %7d  completed %7d  lost %5d  %8.0f q/s  avg latency %.3f ms  CPU s:%s\n' \
        "$name" "$(perf_field "$f" "Queries sent")" "$(perf_field "$f" "Queries completed")" \
        "$(perf_field "$f" "Queries lost")" "$(perf_field "$f" "Queries per second")" \
        "$(awk -v s="$(perf_field "$f" "Average Latency (s)")" 'BEGIN { print 1000 * s }')" "$cpu"
}

echo "scaleout.sh: dnsperf -s ADDR -d FILE(100000 names) -l $SECS -Q $RATE; dnsdist policy $POLICY"
echo "$(dnsdist --version | head -1); tern $TERN_DESC; $(nproc) CPUs, nothing pinned"
perf "through-dnsdist" "$FRONT" "$DNSDIST_PID" "${TERN_PIDS[0]}" "${TERN_PIDS[1]}"
echo "                 (CPU s: dnsdist, tern-1, tern-2)"
perf "one-tern-direct" "$BASE" "${TERN_PIDS[2]}"
echo "                 (CPU s: the baseline tern)"

# dnsdist first, so no health check is sent after they are counted; then the terns, which
# print their counters as they stop.
kill_pid "$DNSDIST_PID"
sleep 0.2
for p in "${TERN_PIDS[@]}"; do kill_pid "$p"; done
counter() { awk -v n="$2" 'NF == 2 && $1 == n { print $2 }' "$RUN_DIR/$1.err"; }
forwarded=()
for t in tern-1 tern-2; do
    q=$(counter "$t" queries)
    c=$(wc -l <"$RUN_DIR/checks.$t" 2>/dev/null || echo 0)
    # minus the one readiness query each tern got from this script
    forwarded+=($((q - c - 1)))
    echo "$t: queries $q = health checks $c + readiness 1 + forwarded $((q - c - 1))"
done
total=$((forwarded[0] + forwarded[1]))
# dnsdist also forwarded the readiness query sent through it
awk -v a="${forwarded[0]}" -v b="${forwarded[1]}" -v c="$(perf_field "$RUN_DIR/through-dnsdist.perf" "Queries completed")" \
    'BEGIN { t = a + b; printf "split of %d forwarded (dnsperf completed %d + 1 readiness): tern-1 %.1f %%, tern-2 %.1f %%\n", t, c, 100 * a / t, 100 * b / t }'
[ "$total" -gt 0 ] || die "no query reached the terns"
