#!/usr/bin/env bash
# Benchmark: upstream packets of one cold lookup (and of a second name in the same zone), tern
# and Unbound, over the NSD hierarchy of lib.sh; with SIGNED=1 the root, test. and alpha.test.
# are signed and both validate, so the difference is what validation costs in packets (the
# DNSKEY of each signed zone; DS sets come with the referrals).
#
#   bash tests/bench/cold_walk.sh            SIGNED=1 bash tests/bench/cold_walk.sh
#
# Needs what lib.sh needs (and bind9-utils for SIGNED=1).
set -euo pipefail
# shellcheck source=tests/bench/lib.sh
source "$(dirname "$0")/lib.sh"
read -r -a RESOLVER_LIST <<<"${RESOLVERS:-tern unbound}"

bench_require nsd unbound dig iptables ip
bench_init
bench_tern_binary
echo "cold_walk.sh: SIGNED=${SIGNED:-0}; tern $TERN_DESC; $(unbound -V | head -1)"
for res in "${RESOLVER_LIST[@]}"; do
    run_begin "cold-$res"
    nsd_start
    start_resolver "$res"
    upstream_zero
    for q in "www.alpha.test A" "mail.alpha.test A"; do
        flags=$(nsx dig @"$RESOLVER_ADDR" +time=5 +tries=1 +dnssec $q | grep -o 'flags: [a-z ]*' | head -1)
        read -r up_udp up_syn <<<"$(upstream_read)"
        printf '%-8s %-18s upstream UDP %3d (cumulative), SYN %d; %s\n' "$res" "$q" "$up_udp" "$up_syn" "$flags"
    done
    stop_resolver
    run_teardown
done
