# shellcheck shell=bash
# Common setup for the tern-vs-Unbound benchmarks (sourced by flood.sh and loss.sh).
#
# Every run lives in its own fresh network namespace (tern-bench-<pid>-<name>, only `lo` up):
#   - the simulated internet of zones/hierarchy/: one NSD (`nsd -d`) per [[server]] table of
#     lab.toml, on its loopback address, port 53 (127.0.0.71 deliberately has no server;
#     127.0.0.61 serves no zone and answers REFUSED);
#   - the resolver under test (tern or Unbound) on 127.0.0.53:53;
#   - the load generator (dnsperf or dig).
# The namespace, its iptables rules and every process started for it are removed at the end of
# the run (and by the EXIT trap). Processes are killed by the PIDs remembered here, never by name.
#
# Upstream traffic (resolver -> authoritative) is counted with iptables rule counters inside the
# namespace: UDP packets and TCP SYNs to port 53 of any 127.0.0.0/8 address except 127.0.0.53.
# The same chains are where loss.sh hangs its impairments.
#
# Knobs (environment):
#   PIN=1                    pin the resolver to CPU 1, NSD + dnsperf/dig to CPU 0 (PIN=0: off)
#   NSD_RRL=0                NSD rrl-ratelimit; "default" leaves NSD's own default (200/s per /24)
#   TERN_CACHE_MAX_BYTES=N   [cache] max_bytes for tern (default 8388608 = Unbound's 4m msg +
#                            4m rrset); used only if this tern build accepts the knob
#   TERN_BIN=PATH            tern binary to test (default: cargo build --release, then
#                            target/release/tern; BUILD=0 skips the build)
#   KEEP_STATE=1             keep the state folder (configs, logs, raw outputs) for inspection
#   RES_WRAP="CMD ..."       run the resolver under CMD (e.g. valgrind, env LD_PRELOAD=...), at
#                            start and restart; used by miss_instructions.sh and dot.sh
#   LEAF_CPU=PCT             the NSD processes of alpha.test. (127.0.0.41 and .42) share PCT % of
#                            one core (a cgroup v1 CPU quota, 1 ms of every 20 ms per 5 %; 5..99): an
#                            overloaded leaf that queues and drops what it cannot answer
#                            (overload.sh); unset: no limit
#   LEAF_RATE=QPS            queries to the alpha.test. servers beyond QPS per second (together,
#                            a token bucket of LEAF_BURST=200) are dropped on arrival, as a
#                            server whose queue is full drops them (iptables hashlimit in the
#                            namespace's INPUT chain); unset: no limit
#   SIGNED=1                 NSD serves the root, test. and alpha.test. signed (ECDSAP256SHA256,
#                            NSEC, keys made for the run by dnssec-keygen, dnssec-signzone), and
#                            both resolvers validate with the root's DS as their trust anchor
# Needs root, iproute2 (ip netns), iptables, nsd, unbound, dig (bind9-dnsutils), python3 >= 3.11,
# taskset (util-linux), ss.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
HIER=$REPO/zones/hierarchy
RESOLVER_ADDR=127.0.0.53

PIN=${PIN:-1}
NSD_RRL=${NSD_RRL:-0}
TERN_CACHE_MAX_BYTES=${TERN_CACHE_MAX_BYTES:-8388608}
KEEP_STATE=${KEEP_STATE:-0}
BUILD=${BUILD:-1}
HZ=$(getconf CLK_TCK)

# Set here, read by the scripts that source this file:
# shellcheck disable=SC2034
STATE=""           # per-invocation state folder
RUN_NS=""          # the current run's namespace
RUN_DIR=""         # the current run's folder inside $STATE
RUN_PIDS=()        # every process started for the current run
RES_PID=""         # the resolver under test
RES_LOG=""         # its stderr
TERN_CACHE_NOTE="" # what tern's cache config was
ALL_NS=()          # every namespace made by this invocation (for the EXIT trap)
LEAF_CGROUP=""     # LEAF_CPU's cgroup, made by bench_init
LEAF_ADDRS="127.0.0.41 127.0.0.42"

log() { printf '%s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

bench_require() { # cmd...
    [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, iptables, port 53)"
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 || die "missing command: $c"
    done
    python3 -c 'import tomllib' 2>/dev/null || die "needs python3 >= 3.11 (tomllib)"
    if [ "$PIN" = 1 ] && [ "$(nproc)" -lt 2 ]; then
        log "note: fewer than 2 CPUs, pinning turned off"
        PIN=0
    fi
}

# Pinning prefixes: the resolver on CPU 1, everything else on CPU 0.
pin_res() { if [ "$PIN" = 1 ]; then echo "taskset -c 1"; fi; }
pin_aux() { if [ "$PIN" = 1 ]; then echo "taskset -c 0"; fi; }

bench_init() { # sets STATE and the EXIT trap
    STATE=$(mktemp -d /tmp/tern-bench.XXXXXX)
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    if [ "${SIGNED:-0}" = 1 ]; then sign_hierarchy; fi
    if [ -n "${LEAF_CPU:-}" ]; then leaf_cgroup "$LEAF_CPU"; fi
}

leaf_cgroup() { # pct: a CPU cgroup the alpha.test. servers are started in
    [[ $1 =~ ^[1-9][0-9]?$ ]] && [ "$1" -ge 5 ] || die "LEAF_CPU must be 5..99 (percent of one core)"
    local root=/sys/fs/cgroup/cpu
    [ -w "$root" ] || root=/sys/fs/cgroup/cpu,cpuacct
    [ -w "$root" ] || die "LEAF_CPU needs a writable cgroup v1 cpu controller (/sys/fs/cgroup/cpu)"
    LEAF_CGROUP=$root/tern-bench-$$
    mkdir -p "$LEAF_CGROUP"
    echo 20000 >"$LEAF_CGROUP/cpu.cfs_period_us"
    echo $(($1 * 200)) >"$LEAF_CGROUP/cpu.cfs_quota_us"
}

# SIGNED=1: a copy of the hierarchy in $STATE/hier with root, test. and alpha.test. signed,
# children first so each DS is in its parent before the parent is signed; HIER points at it
# and $HIER/root.anchor holds the root's DS.
sign_hierarchy() {
    command -v dnssec-signzone >/dev/null || die "SIGNED=1 needs dnssec-keygen and dnssec-signzone (bind9-utils)"
    cp -r "$REPO/zones/hierarchy" "$STATE/hier"
    HIER=$STATE/hier
    local zone file ksk zsk
    for zone in alpha.test. test. .; do
        case $zone in
        .) file=root.zone ;;
        *) file=${zone%.}.zone ;;
        esac
        ksk=$(cd "$HIER" && dnssec-keygen -q -a ECDSAP256SHA256 -f KSK -n ZONE "$zone")
        zsk=$(cd "$HIER" && dnssec-keygen -q -a ECDSAP256SHA256 -n ZONE "$zone")
        cat "$HIER/$ksk.key" "$HIER/$zsk.key" >>"$HIER/$file"
        case $zone in
        test.) cat "$HIER/dsset-alpha.test." >>"$HIER/$file" ;;
        .) cat "$HIER/dsset-test." >>"$HIER/$file" ;;
        esac
        (cd "$HIER" && dnssec-signzone -q -o "$zone" -f "$file.signed" "$file" "$ksk" "$zsk" >/dev/null) ||
            die "dnssec-signzone failed for $zone"
        mv "$HIER/$file.signed" "$HIER/$file"
    done
    cp "$HIER/dsset-." "$HIER/root.anchor"
}


kill_pid() { # pid: TERM, wait up to 5 s, then KILL
    local p=$1 i
    kill -0 "$p" 2>/dev/null || {
        wait "$p" 2>/dev/null || true
        return 0
    }
    kill -TERM "$p" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

run_teardown() { # stops every process of the current run, deletes its namespace
    local p
    for p in "${RUN_PIDS[@]}"; do kill_pid "$p"; done
    RUN_PIDS=()
    RES_PID=""
    if [ -n "$RUN_NS" ]; then
        ip netns del "$RUN_NS" 2>/dev/null || true
        RUN_NS=""
    fi
}

bench_cleanup() {
    set +e
    run_teardown
    local n
    for n in "${ALL_NS[@]}"; do ip netns del "$n" 2>/dev/null; done
    if [ -n "$LEAF_CGROUP" ]; then rmdir "$LEAF_CGROUP" 2>/dev/null; fi
    if [ -n "$STATE" ]; then
        if [ "$KEEP_STATE" = 1 ]; then log "state kept in $STATE"; else rm -rf "$STATE"; fi
    fi
}

nsx() { ip netns exec "$RUN_NS" "$@"; } # run a command inside the current namespace

# ---------------------------------------------------------------------------------------------
# tern binary

# Builds tern (unless BUILD=0 or TERN_BIN is set) and copies the binary into $STATE, so that a
# concurrent rebuild cannot change it between runs. Sets TERN.
bench_tern_binary() {
    local src=${TERN_BIN:-$REPO/target/release/tern}
    if [ -z "${TERN_BIN:-}" ] && [ "$BUILD" = 1 ]; then
        if ! (cd "$REPO" && cargo build --release -q) >"$STATE/build.log" 2>&1; then
            [ -x "$src" ] || {
                cat "$STATE/build.log" >&2
                die "cargo build --release failed and there is no $src"
            }
            log "note: cargo build --release failed (tree mid-edit?); using the last built $src"
        fi
    fi
    [ -x "$src" ] || die "no tern binary at $src"
    cp "$src" "$STATE/tern"
    TERN=$STATE/tern
    local desc
    desc="binary built $(date -r "$src" '+%F %T'), tree at $(cd "$REPO" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$REPO" && git diff --quiet HEAD -- src 2>/dev/null || echo ' with uncommitted src changes')"
    # A binary from elsewhere says nothing about this tree.
    if [ -n "${TERN_BIN:-}" ]; then desc="$TERN_BIN (built $(date -r "$src" '+%F %T'))"; fi
    # shellcheck disable=SC2034
    TERN_DESC=$desc
}

# ---------------------------------------------------------------------------------------------
# namespace + authoritative hierarchy

run_begin() { # name: fresh namespace and run folder
    RUN_NS="tern-bench-$$-$1"
    RUN_DIR="$STATE/$1"
    mkdir -p "$RUN_DIR"
    ip netns del "$RUN_NS" 2>/dev/null || true
    ip netns add "$RUN_NS"
    ALL_NS+=("$RUN_NS")
    nsx ip link set lo up
    upstream_chains
    if [ -n "${LEAF_RATE:-}" ]; then leaf_rate "$LEAF_RATE"; fi
}

leaf_rate() { # qps: the alpha.test. servers drop what arrives beyond it
    [[ $1 =~ ^[1-9][0-9]*$ ]] || die "LEAF_RATE must be a positive integer (queries per second)"
    local a
    for a in $LEAF_ADDRS; do
        nsx iptables -w -A INPUT -d "$a" -p udp --dport 53 -m hashlimit --hashlimit-name leaf \
            --hashlimit-above "$1/sec" --hashlimit-burst "${LEAF_BURST:-200}" -j DROP
    done
}

# Writes one NSD config per [[server]] table of lab.toml into $RUN_DIR/nsd-ADDR/ and prints
# "ADDR CONF PROBE_NAME" lines (PROBE_NAME: the origin of its first zone, "." if it has none).
nsd_configs() {
    python3 - "$HIER/lab.toml" "$RUN_DIR" "$NSD_RRL" <<'PY'
import os, sys, tomllib
lab, run_dir, rrl = sys.argv[1], sys.argv[2], sys.argv[3]
base = os.path.dirname(os.path.abspath(lab))
with open(lab, "rb") as f:
    servers = tomllib.load(f)["server"]
for s in servers:
    addr = s["addr"]
    d = os.path.join(run_dir, "nsd-" + addr)
    os.makedirs(d, exist_ok=True)
    lines = [
        "server:",
        f"  ip-address: {addr}",
        "  port: 53",
        "  do-ip6: no",
        "  server-count: 1",
        "  verbosity: 0",
        '  username: ""',
        '  chroot: ""',
        f'  zonesdir: "{base}"',
        f'  pidfile: "{d}/nsd.pid"',
        '  database: ""',
        f'  zonelistfile: "{d}/zone.list"',
        f'  xfrdfile: "{d}/xfrd.state"',
        f'  xfrdir: "{d}"',
        f'  logfile: "{d}/nsd.log"',
        "  refuse-any: no",
    ]
    if rrl != "default":
        lines.append(f"  rrl-ratelimit: {int(rrl)}")
    lines += ["remote-control:", "  control-enable: no"]
    for z in s.get("zones", []):
        lines += ["zone:", f'  name: "{z["origin"]}"', f'  zonefile: "{z["file"]}"']
    conf = os.path.join(d, "nsd.conf")
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    zones = s.get("zones", [])
    print(addr, conf, zones[0]["origin"] if zones else ".")
PY
}

answers() { # addr name type: true once the server at addr answers anything (even REFUSED)
    nsx dig @"$1" +time=1 +tries=1 +norec +noall +comments "$2" "$3" 2>/dev/null | grep -q 'status:'
}

# Starts the whole hierarchy in the current namespace and waits until every server answers.
nsd_start() {
    local addr conf probe i started=()
    # shellcheck disable=SC2046
    while read -r addr conf probe; do
        if [ -n "$LEAF_CGROUP" ] && [[ " $LEAF_ADDRS " == *" $addr "* ]]; then
            # Into the cgroup before exec (from outside the namespace: `ip netns exec` mounts
            # its own /sys), so NSD's server processes are born in it.
            # shellcheck disable=SC2046
            (
                echo "$BASHPID" >"$LEAF_CGROUP/cgroup.procs"
                exec ip netns exec "$RUN_NS" $(pin_aux) nsd -d -c "$conf"
            ) </dev/null >"$(dirname "$conf")/stderr" 2>&1 &
        else
            ip netns exec "$RUN_NS" $(pin_aux) nsd -d -c "$conf" </dev/null >"$(dirname "$conf")/stderr" 2>&1 &
        fi
        RUN_PIDS+=($!)
        started+=("$addr $probe")
    done < <(nsd_configs)
    local s
    for s in "${started[@]}"; do
        read -r addr probe <<<"$s"
        for ((i = 0; i < 50; i++)); do
            answers "$addr" "$probe" SOA && break
            sleep 0.1
        done
        answers "$addr" "$probe" SOA || {
            cat "$RUN_DIR/nsd-$addr/stderr" "$RUN_DIR/nsd-$addr/nsd.log" >&2 2>/dev/null
            die "NSD on $addr does not answer"
        }
    done
}

# ---------------------------------------------------------------------------------------------
# resolvers under test

wait_listening() { # true once the resolver listens on 127.0.0.53:53 (UDP), at most 10 s (60 s under RES_WRAP)
    local i tries=100
    if [ -n "${RES_WRAP:-}" ]; then tries=600; fi
    for ((i = 0; i < tries; i++)); do
        kill -0 "$RES_PID" 2>/dev/null || return 1
        nsx ss -Hlun "src $RESOLVER_ADDR:53" 2>/dev/null | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

tern_config() { # file with_max_bytes(0|1)
    {
        echo "[server]"
        echo "listen = [\"$RESOLVER_ADDR:53\"]"
        echo "[recursion]"
        echo "root_hints = \"$HIER/root.hints\""
        echo "allow = [\"127.0.0.0/8\"]"
        if [ "${SIGNED:-0}" = 1 ]; then
            echo "[dnssec]"
            echo "trust_anchor = \"$HIER/root.anchor\""
        fi
        if [ "$2" = 1 ]; then
            echo "[cache]"
            echo "max_bytes = $TERN_CACHE_MAX_BYTES"
        fi
    } >"$1"
}

start_tern() {
    RES_LOG=$RUN_DIR/tern.log
    local with
    for with in 1 0; do
        tern_config "$RUN_DIR/tern.toml" "$with"
        # shellcheck disable=SC2046,SC2086
        NO_COLOR=1 ip netns exec "$RUN_NS" $(pin_res) ${RES_WRAP:-} "$TERN" serve --config "$RUN_DIR/tern.toml" \
            --log-level warn </dev/null >"$RUN_DIR/tern.out" 2>"$RES_LOG" &
        RES_PID=$!
        RUN_PIDS+=("$RES_PID")
        if wait_listening; then
            if [ "$with" = 1 ]; then
                TERN_CACHE_NOTE="[cache] max_bytes = $TERN_CACHE_MAX_BYTES"
            else
                # shellcheck disable=SC2016,SC2034
                TERN_CACHE_NOTE="no [cache] max_bytes: this build rejects it ($(grep -o 'unknown field `[a-z_]*`' "$RUN_DIR/tern.err.1" | head -1)); cache bounded by its default max_entries"
            fi
            return 0
        fi
        kill_pid "$RES_PID"
        cp "$RES_LOG" "$RUN_DIR/tern.err.$with"
    done
    cat "$RES_LOG" >&2
    die "tern did not start"
}

start_unbound() {
    RES_LOG=$RUN_DIR/unbound.log
    cat >"$RUN_DIR/unbound.conf" <<CONF
server:
  interface: $RESOLVER_ADDR
  port: 53
  do-ip6: no
  username: ""
  chroot: ""
  directory: "$RUN_DIR"
  pidfile: "$RUN_DIR/unbound.pid"
  use-syslog: no
  logfile: ""
  root-hints: "$HIER/root.hints"
  module-config: "$([ "${SIGNED:-0}" = 1 ] && echo "validator iterator" || echo iterator)"
$([ "${SIGNED:-0}" = 1 ] && echo "  trust-anchor-file: \"$HIER/root.anchor\"")
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  local-zone: "test." nodefault
  local-zone: "example." nodefault
  discard-timeout: 0
  qname-minimisation: yes
  num-threads: 1
  msg-cache-size: 4m
  rrset-cache-size: 4m
  verbosity: 0
remote-control:
  control-enable: no
CONF
    # shellcheck disable=SC2046,SC2086
    ip netns exec "$RUN_NS" $(pin_res) ${RES_WRAP:-} unbound -d -c "$RUN_DIR/unbound.conf" \
        </dev/null >"$RUN_DIR/unbound.out" 2>"$RES_LOG" &
    RES_PID=$!
    RUN_PIDS+=("$RES_PID")
    wait_listening || {
        cat "$RES_LOG" >&2
        die "unbound did not start"
    }
}

start_resolver() { # tern|unbound
    case $1 in
    tern) start_tern ;;
    unbound) start_unbound ;;
    *) die "unknown resolver $1" ;;
    esac
}

stop_resolver() { # TERM and wait (tern prints its counters on the way out)
    [ -n "$RES_PID" ] && kill_pid "$RES_PID"
}

# tern's shutdown counters as one line ("queries=... upstream_queries=...").
tern_counters() {
    awk 'NF == 2 && $1 ~ /^[a-z_]+$/ && $2 ~ /^[0-9]+$/ { printf "%s%s=%s", sep, $1, $2; sep = " " }' "$RES_LOG"
}

# Warnings and errors the resolver logged (log volume): "N warn/error lines (B bytes of log)".
log_volume() {
    local n
    n=$(grep -c -E ' (WARN|ERROR) |warning:|error:' "$RES_LOG" || true)
    echo "$n warn/error lines ($(stat -c %s "$RES_LOG") bytes of log)"
}

# ---------------------------------------------------------------------------------------------
# measurements

cpu_secs() { # pid -> user+system CPU seconds (fields after the last ')' of /proc/PID/stat)
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo 0
        return
    }
    s=${s##*) }
    awk -v hz="$HZ" '{ printf "%.2f", ($12 + $13) / hz }' <<<"$s"
}

split_ticks() { # pid -> "utime stime" in clock ticks (all threads); "0 0" when it is gone
    local s
    s=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo "0 0"
        return
    }
    s=${s##*) } # the title may hold spaces ("nsd: server 1")
    awk '{ print $12, $13 }' <<<"$s"
}

switches_of() { # pid -> context switches (voluntary + involuntary) summed over its threads
    cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s + 0 }'
}

rss_kb() { # pid field(VmRSS|VmHWM) -> kB
    awk -v f="$2:" '$1 == f { print $2; found = 1 } END { if (!found) print 0 }' "/proc/$1/status" 2>/dev/null || echo 0
}

cpu_jiffies() { # -> "cpuN busy total" lines from /proc/stat
    awk '/^cpu[0-9]/ { t = 0; for (i = 2; i <= NF; i++) t += $i; print $1, t - $5 - $6, t }' /proc/stat
}

cpu_busy() { # before-file after-file -> "cpu0 97% cpu1 80%"
    awk 'NR == FNR { b[$1] = $2; t[$1] = $3; next }
         { dt = $3 - t[$1]; printf "%s%s %.0f%%", sep, $1, (dt > 0 ? 100 * ($2 - b[$1]) / dt : 0); sep = ", " }' "$1" "$2"
}

# Samples the CPUs for one second while the run is idle; warns when something else (another
# build, another benchmark) keeps them busy, since then every timing here is noisy.
noise_check() {
    local a=$RUN_DIR/idle.before b=$RUN_DIR/idle.after busy
    cpu_jiffies >"$a"
    sleep 1
    cpu_jiffies >"$b"
    busy=$(cpu_busy "$a" "$b")
    if awk -v s="$busy" 'BEGIN { n = split(s, f, /[ ,%]+/); for (i = 2; i <= n; i += 2) if (f[i] + 0 > 15) exit 0; exit 1 }'; then
        echo "   WARNING: CPUs busy before the run with nothing of ours running ($busy): other load, noisy numbers"
    fi
}

mb() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# Samples the resolver's VmRSS and VmHWM every second into $RUN_DIR/rss (lines "sec rss hwm"),
# for at most $1 seconds or until the resolver exits.
rss_sampler_start() {
    local max=$1 pid=$RES_PID out=$RUN_DIR/rss
    : >"$out"
    (
        for ((i = 0; i < max; i++)); do
            [ -r "/proc/$pid/status" ] || break
            echo "$i $(rss_kb "$pid" VmRSS) $(rss_kb "$pid" VmHWM)" >>"$out"
            sleep 1
        done
    ) &
    RSS_SAMPLER=$!
    RUN_PIDS+=("$RSS_SAMPLER")
}

# Chains counting (and later impairing) resolver <-> authoritative packets:
#   TBQ: packets to port 53 of any address but 127.0.0.53 (queries), counted by protocol
#   TBR: packets from port 53 of any address but 127.0.0.53 (answers)
# On lo every packet crosses OUTPUT once (and INPUT once), so hooking only OUTPUT sees each
# packet exactly once.
upstream_chains() {
    local ipt=(ip netns exec "$RUN_NS" iptables -w)
    "${ipt[@]}" -N TBQ
    "${ipt[@]}" -N TBR
    "${ipt[@]}" -A OUTPUT -d 127.0.0.0/8 -p udp --dport 53 -j TBQ
    "${ipt[@]}" -A OUTPUT -d 127.0.0.0/8 -p tcp --dport 53 -j TBQ
    "${ipt[@]}" -A OUTPUT -s 127.0.0.0/8 -p udp --sport 53 -j TBR
    "${ipt[@]}" -A OUTPUT -s 127.0.0.0/8 -p tcp --sport 53 -j TBR
    "${ipt[@]}" -A TBQ -d "$RESOLVER_ADDR" -j RETURN
    "${ipt[@]}" -A TBQ -m comment --comment up_all
    "${ipt[@]}" -A TBQ -p udp -m comment --comment up_udp
    "${ipt[@]}" -A TBQ -p tcp --syn -m comment --comment up_syn
    "${ipt[@]}" -A TBR -s "$RESOLVER_ADDR" -j RETURN
    "${ipt[@]}" -A TBR -m comment --comment up_answers
}

upstream_zero() { nsx iptables -w -Z TBQ && nsx iptables -w -Z TBR; }

upstream_read() { # -> "UDP SYN"
    nsx iptables -w -L TBQ -v -x -n |
        awk '/\/\* up_udp \*\// { u = $1 } /\/\* up_syn \*\// { s = $1 } END { print u + 0, s + 0 }'
}

# ---------------------------------------------------------------------------------------------
# The resolver restarted with its config edited (dot.sh: a DoT listener, connection caps)

# Stops the resolver that start_resolver started, runs EDIT... with its config file appended
# as the last argument, and starts it again the same way (in the namespace, pinned); waits
# until it listens.
restart_resolver_edited() { # tern|unbound EDIT...
    local t=$1 conf
    shift
    stop_resolver
    case $t in
    tern) conf=$RUN_DIR/tern.toml ;;
    unbound) conf=$RUN_DIR/unbound.conf ;;
    *) die "unknown resolver $t" ;;
    esac
    "$@" "$conf"
    local cmd=(unbound -d -c "$conf")
    if [ "$t" = tern ]; then cmd=("$TERN" serve --config "$conf" --log-level warn); fi
    # shellcheck disable=SC2046
    NO_COLOR=1 ip netns exec "$RUN_NS" $(pin_res) ${RES_WRAP:-} "${cmd[@]}" </dev/null >"$RUN_DIR/$t.out" 2>"$RES_LOG" &
    RES_PID=$!
    RUN_PIDS+=("$RES_PID")
    wait_listening || {
        cat "$RES_LOG" >&2
        die "$t did not start again with its edited config"
    }
}
