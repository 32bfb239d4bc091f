#!/usr/bin/env bash
# Runs tern's whole test suite. Installs the reference peers (NSD, Unbound, Knot, dnsdist), the
# DNS tools (dig, kdig, nsupdate), BIND's signing tools (bind9-utils: the signed-zone tests sign
# their zones at run time), promtool (Debian's prometheus), procps (kill) and systemd
# (systemd-analyze verify of zones/contrib/tern.service), curl (HTTP/2) and dnsperf (the DNS over
# HTTPS and TLS clients of tests/it/transport), and chromium and python3 (the dashboard's
# browser test, tests/browser/dashboard.py) the tests need, without letting Debian
# start their services (NSD & co. on port 53, Prometheus).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in nsd unbound knotd dnsdist dig kdig nsupdate knsupdate dnssec-keygen dnssec-signzone dnssec-dsfromkey promtool /bin/kill systemd-analyze curl dnsperf chromium python3; do
    command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ "${#need[@]}" -gt 0 ]; then
    echo "tests/run.sh: installing test peers (missing: ${need[*]})"
    # policy-rc.d exit 101 tells Debian's maintainer scripts not to start services. It is put
    # back as it was afterwards (removed, or the machine's own restored), even on failure.
    policy=/usr/sbin/policy-rc.d
    saved=""
    if [ -e "$policy" ]; then
        saved=$(mktemp)
        cp -p "$policy" "$saved"
    fi
    restore_policy() {
        if [ -n "$saved" ]; then
            cp -p "$saved" "$policy"
            rm -f "$saved"
        else
            rm -f "$policy"
        fi
    }
    trap restore_policy EXIT
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod +x "$policy"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nsd unbound knot dnsdist bind9-dnsutils bind9-utils knot-dnsutils prometheus procps systemd curl dnsperf chromium python3 >/dev/null
    restore_policy
    trap - EXIT
fi
# The tests bind port 53 on their own loopback addresses (127.N.0.x). A server of the user's
# bound to every address (0.0.0.0:53) would take them; it is the user's, so say so rather than
# stop it (tests stop only the processes they started).
if command -v ss >/dev/null 2>&1 && ss -lun 'sport = :53' 2>/dev/null | grep -qE '(0\.0\.0\.0|\*|\[::\]):53 '; then
    echo "tests/run.sh: warning: something listens on port 53 of every address:" >&2
    ss -lunp 'sport = :53' >&2 || true
    echo "tests/run.sh: tests that bind 127.N.0.x:53 will fail until it is stopped" >&2
fi

cargo test --all-targets
cargo test --doc
# The dashboard in headless Chromium, against `tern serve`s on 127.158.0.0/16 and
# 127.159.0.0/16 (the binary the tests above built).
cargo build --quiet
python3 tests/browser/dashboard.py --screenshot target/dashboard.png
# The embedded example runs as its documentation says.
cargo run --quiet --example cluster >/dev/null
# The fuzz crate has its own workspace; make sure its targets still build against the library.
cargo check --manifest-path fuzz/Cargo.toml --bins
