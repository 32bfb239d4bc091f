#!/usr/bin/env bash
# Runs tern's whole test suite. Installs the reference peers (NSD, Unbound), the DNS tools
# (dig, kdig) and procps (kill, pkill) the interop tests need, without letting Debian start
# the peers' services on port 53.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in nsd unbound dig kdig pkill; do
    command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ "${#need[@]}" -gt 0 ]; then
    echo "tests/run.sh: installing test peers (missing: ${need[*]})"
    # policy-rc.d exit 101 tells Debian's maintainer scripts not to start services.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nsd unbound bind9-dnsutils knot-dnsutils procps >/dev/null
fi
# A distro unbound/nsd that did start anyway would hold port 53 on loopback.
pkill -x unbound 2>/dev/null || true
pkill -x nsd 2>/dev/null || true

cargo test --all-targets
# The fuzz crate has its own workspace; make sure its targets still build against the library.
cargo check --manifest-path fuzz/Cargo.toml --bins
