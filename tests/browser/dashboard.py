#!/usr/bin/env python3
"""The dashboard in a real browser: headless Chromium, driven over the DevTools protocol
(tests/browser/cdp.py), against a `tern serve` on 127.158.0.0/16 (TERN_DASH_NET) with a small cluster, a
forward zone (to a second tern, so the Upstreams view has a server) and the query log on.

Checks: the page loads with no console error; it shows the services and their instances;
an instance turns unhealthy after its listener is closed; a query just sent shows in the
Queries view, and a name holding <script> shows as text and does not run. Then a second
tern with 1,000 service instances and 10,000 query-log lines: the JSON sizes and the page's
render times are printed. Last, `tern lab` as a newcomer runs it (its servers on 127.0.0.x:53,
its resolver on 127.0.0.1:5399, its dashboard on 127.0.0.1:9199): the lab cluster's services,
a node taken down by its `POST /stop` turning red, a query just sent, cluster.test.'s
secondaries current. The lab's screenshot is copied to --screenshot PATH (tests/run.sh:
target/dashboard.png); the temp dir is removed after a pass, kept with its logs on a failure.

Usage: tests/browser/dashboard.py [--tern target/debug/tern] [--screenshot PATH]
Exits 0 with a message when chromium is not installed (skipped), 1 on a failure.
Starts only its own processes and kills only those, by PID."""

import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Browser  # noqa: E402

# The loopback /16s the runs use (each concurrent run of this test wants its own).
NET = os.environ.get("TERN_DASH_NET", "127.158")
BIG_NET = os.environ.get("TERN_DASH_BIG_NET", "127.159")
HOST = NET + ".0.1"
DNS = (HOST, 5300)
METRICS = "http://%s:9153" % HOST
UPSTREAM = (NET + ".0.53", 5300)
UPSTREAM_METRICS = "http://%s:9153" % UPSTREAM[0]
# The page's second run: many instances and query lines.
BIG_HOST = BIG_NET + ".0.1"
BIG_INSTANCES = 1000
BIG_LINES = 10000
HOSTILE = "<script>window.pwned=1</script>"
# `tern lab`: its servers sit on 127.0.0.x:53 (the simulated internet, the cluster); its
# resolver and dashboard on ports a user's own `tern lab` (5300, 9153) does not take.
LAB_DNS = ("127.0.0.1", 5399)
LAB_METRICS = "http://127.0.0.1:9199"

ZONE = """$ORIGIN {origin}
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A {ns}
www IN A {net}.0.20
"""


class Node:
    """A service instance on loopback: accepts connections (answering HTTP with 200 when
    `http`) until closed."""

    def __init__(self, addr, http):
        self.sock = socket.create_server(addr)
        self.http = http
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                if self.http:
                    conn.settimeout(1)
                    try:
                        conn.recv(1024)
                        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
                    except OSError:
                        pass

    def close(self):
        self.sock.close()


def query(name, qtype=1, server=DNS, source=NET + ".0.2", wait=True):
    """Sends one query (RD=1) from `source`; its answer's RCODE, or None when not waited for
    or lost."""
    wire = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        wire += bytes([len(label)]) + label.encode()
    wire += b"\0" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(3)
        s.sendto(wire, server)
        if not wait:
            return None
        try:
            reply = s.recv(4096)
        except socket.timeout:
            return None
        return reply[3] & 0x0F


def get(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.read()


def wait_http(url, proc, what):
    for _ in range(100):
        if proc.poll() is not None:
            raise AssertionError("%s exited (%s)" % (what, proc.returncode))
        try:
            return get(url)
        except OSError:
            time.sleep(0.1)
    raise AssertionError(what + " did not answer on " + url)


def instance(name, ip, port, check):
    return """
[[service.instance]]
name = "{name}"
address = "{ip}"
port = {port}
check = {{ {check}, interval_ms = 500, timeout_ms = 400 }}
""".format(name=name, ip=ip, port=port, check=check)


def main_config(tmp):
    hints = os.path.join(tmp, "root.hints")
    with open(hints, "w") as f:
        # Nothing listens there: only local and forwarded names are asked.
        f.write(". 3600000 NS a.root.lab.\na.root.lab. 3600000 A %s.0.54\n" % NET)
    with open(os.path.join(tmp, "dash.test.zone"), "w") as f:
        f.write(ZONE.format(origin="dash.test.", ns=HOST, net=NET))
    web = "".join(
        instance("web-%d" % i, "%s.0.%d" % (NET, 10 + i), 8080, 'tcp = "%s.0.%d:8080"' % (NET, 10 + i))
        for i in (1, 2, 3)
    )
    api = "".join(
        instance("api-%d" % i, "%s.0.%d" % (NET, 13 + i), 8081, 'http = "http://%s.0.%d:8081/health"' % (NET, 13 + i))
        for i in (1, 2)
    )
    return """
[server]
listen = ["{host}:5300"]
[recursion]
allow = ["127.0.0.0/8"]
root_hints = "{hints}"
[dnssec]
validate = false
[[forward]]
zone = "up.test."
servers = ["{up}:{up_port}"]
[[zone]]
origin = "dash.test."
file = "dash.test.zone"
[[zone]]
origin = "sec.test."
file = "sec.test.copy"
primaries = ["{up}:{up_port}"]
[[service]]
zone = "dash.test."
name = "web"
balance = "round-robin"
{web}
[[service]]
zone = "dash.test."
name = "api"
balance = "weighted"
{api}
[metrics]
listen = "{host}:9153"
allow = ["127.0.0.0/8"]
[log]
queries = "queries.jsonl"
""".format(host=HOST, hints=hints, up=UPSTREAM[0], up_port=UPSTREAM[1], web=web, api=api)


def authoritative(tmp, listen, zones):
    """An authoritative-only tern on `listen`: [server] and a [[zone]] per origin of `zones`
    (origin: extra lines of its table), their zone files written to `tmp`."""
    text = '[server]\nlisten = ["%s:%d"]\nno_recursion = true\n' % listen
    for origin, extra in zones.items():
        with open(os.path.join(tmp, origin + "zone"), "w") as f:
            f.write(ZONE.format(origin=origin, ns=listen[0], net=NET))
        text += '[[zone]]\norigin = "%s"\nfile = "%szone"\n%s' % (origin, origin, extra)
    return text


def upstream_config(tmp):
    return authoritative(tmp, UPSTREAM, {"up.test.": "", "sec.test.": 'allow_transfer = ["%s.0.0/16"]\n' % NET}) + (
        '[metrics]\nlisten = "%s:9153"\n' % UPSTREAM[0])


def big_config(tmp):
    nodes = "".join(
        '\n[[service.instance]]\nname = "n-%d"\naddress = "%s.%d.%d"\nport = 80\n'
        % (i, BIG_NET, 1 + i // 250, 1 + i % 250)
        for i in range(BIG_INSTANCES)
    )
    return authoritative(tmp, (BIG_HOST, 5300), {"big.test.": ""}) + """
[[service]]
zone = "big.test."
name = "bulk"
{nodes}
[metrics]
listen = "{h}:9153"
[log]
queries = "big-queries.jsonl"
""".format(h=BIG_HOST, nodes=nodes)


class Run:
    """What was started, to be stopped by PID."""

    def __init__(self, tmp, tern):
        self.tmp, self.tern = tmp, tern
        self.procs = []
        self.log = open(os.path.join(tmp, "processes.log"), "a")

    def serve(self, name, text):
        path = os.path.join(self.tmp, name + ".toml")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.Popen([self.tern, "serve", "--config", path], cwd=self.tmp, stdout=self.log, stderr=self.log)
        self.procs.append(p)
        return p

    def lab(self):
        """`tern lab` with its resolver on LAB_DNS and its dashboard on LAB_METRICS."""
        p = subprocess.Popen([self.tern, "lab", "--listen", "%s:%d" % LAB_DNS, "--metrics", LAB_METRICS[len("http://"):]],
                             cwd=self.tmp, stdout=self.log, stderr=self.log)
        self.procs.append(p)
        return p

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.log.close()


def open_services(b, base, zone):
    """Opens the page at `base` and waits for its web and api services in `zone`."""
    b.open(base + "/")
    b.wait_for("window.ternStats && window.ternStats.polls >= 2", 15, "the first polls of " + base)
    names = b.wait_for(
        "[...document.querySelectorAll('#services h3')].map(h => h.firstChild.textContent).join(',')",
        10, "the services of " + base)
    assert "web." + zone in names and "api." + zone in names, names


def check_main(b, tmp, nodes):
    open_services(b, METRICS, "dash.test.")
    rows = b.eval("[...document.querySelectorAll('#services tr[data-instance]')].map(r => r.dataset.instance + '=' + r.dataset.health)")
    assert sorted(rows) == sorted(["web-1=healthy", "web-2=healthy", "web-3=healthy", "api-1=healthy", "api-2=healthy"]), rows
    print("dashboard: services and instances shown:", ", ".join(rows))

    # An instance whose listener closes turns unhealthy (checks every 0.5 s, fall 2; page
    # polls every second).
    nodes["web-2"].close()
    t0 = time.monotonic()
    b.wait_for("document.querySelector('#services tr[data-instance=\"web-2\"]').dataset.health === 'unhealthy'",
               10, "web-2 unhealthy")
    err = b.eval("document.querySelector('#services tr[data-instance=\"web-2\"] td.err').textContent")
    print("dashboard: web-2 shown unhealthy %.1f s after its listener closed (last error: %s)" % (time.monotonic() - t0, err))

    # Queries just sent: a plain one, a forwarded one (the Upstreams view) and a name
    # holding markup, which must show as text and not run.
    rcode = query("www.dash.test.")
    assert rcode == 0, "www.dash.test. answered RCODE %s" % rcode
    rcode = query("www.up.test.")
    assert rcode == 0, "www.up.test. (forwarded) answered RCODE %s" % rcode
    query(HOSTILE + ".dash.test.")
    b.wait_for("[...document.querySelectorAll('#query-rows tr')].some(r => r.textContent.includes('www.dash.test.'))",
               10, "the query in the Queries view")
    shown = b.wait_for(
        "[...document.querySelectorAll('#query-rows td')].map(td => td.textContent).find(t => t.includes('pwned')) || ''",
        10, "the hostile name in the Queries view")
    assert HOSTILE in shown, shown
    assert b.eval("typeof window.pwned") == "undefined", "the name's script ran"
    assert b.eval("document.querySelectorAll('#query-rows script, #query-rows *[onerror]').length") == 0
    raw = get(METRICS + "/api/queries").decode()
    assert "<script>" not in raw and "\\u003cscript\\u003e" in raw, raw[:500]
    print("dashboard: queries shown; %r shown as text, not run, and \\u003c-escaped in the JSON" % HOSTILE)
    b.wait_for("[...document.querySelectorAll('#upstream-rows td')].some(td => td.textContent === '%s:%d')" % UPSTREAM,
               10, "the forwarder in the Upstreams view")
    b.wait_for("[...document.querySelectorAll('#zone-rows td')].some(td => td.textContent === 'dash.test.')",
               10, "the zone in the Zones view")
    # The secondary, once transferred: its serial, records and SOA timers.
    sec = b.wait_for("(() => { const r = [...document.querySelectorAll('#zone-rows tr')]"
                     ".find(r => r.firstChild.textContent === 'sec.test.');"
                     " return r && r.children[1].textContent === '1' ? [...r.children].map(c => c.textContent).join(' | ') : '' })()",
                     15, "the secondary zone transferred")
    assert "1h / 10m / 1d" in sec and "secondary of" in sec, sec
    # Its refresh state (zones are polled every fifth second: the first poll may predate
    # the transfer).
    state = b.wait_for("(() => { const r = [...document.querySelectorAll('#zone-rows tr')]"
                       ".find(r => r.firstChild.textContent === 'sec.test.');"
                       " const t = r?.nextElementSibling?.querySelector('td[data-replication]')?.textContent || '';"
                       " return t.includes('refreshed') ? t : '' })()",
                       15, "the secondary's refresh state")
    assert "from %s:%d (serial 1)" % UPSTREAM in state, state
    assert "AXFR" in state and "next in" in state and "expires in 24h" in state, state
    print("dashboard: zones shown, the secondary's row:", sec, "|", state)
    # A filter narrows the rows.
    type_filter = "(() => { const f = document.getElementById('f-name'); f.value = '%s'; f.dispatchEvent(new Event('input')) })()"
    b.eval(type_filter % "up.test")
    rows = b.eval("[...document.querySelectorAll('#query-rows tr')].map(r => r.textContent)")
    assert rows and all("up.test" in r for r in rows), rows
    b.eval(type_filter % "")
    return picture(b, tmp, "dashboard", ["www.dash.test."], "dash.test.", {})


def picture(b, tmp, name, names, zone, where):
    """Some traffic for the chart (`names`, and now and then a name missing from `zone`;
    `where`: query()'s server and source), then a screenshot, `tmp`/`name`.png, taken with
    no console error on the page."""
    for i in range(40):
        query(names[i % len(names)], wait=False, **where)
        if i % 8 == 0:
            query("nx%d.%s" % (i, zone), wait=False, **where)
        b.pump(0.1)
    b.pump(1.5)
    shot = b.call("Page.captureScreenshot", {"format": "png"})
    import base64
    path = os.path.join(tmp, name + ".png")
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    errors = b.errors()
    assert not errors, "console errors: %s" % errors
    print("dashboard (%s): no console error; screenshot %s" % (name, path))
    return path


def check_lab(b, tmp, lab):
    """`tern lab` as a newcomer meets it: the cluster's services, a node taken down with its
    `POST /stop` turning red, a query just sent, the cluster's zone with its secondaries
    current. Its screenshot is the README's."""
    wait_http(LAB_METRICS + "/metrics", lab, "tern lab")
    open_services(b, LAB_METRICS, "cluster.test.")
    everyone = ["web-1", "web-2", "web-3", "api-1", "api-2"]
    healthy = ",".join(sorted(n + "=healthy" for n in everyone))
    b.wait_for("[...document.querySelectorAll('#services tr[data-instance]')]"
               ".map(r => r.dataset.instance + '=' + r.dataset.health).sort().join(',') === '%s'" % healthy,
               10, "the lab's five instances healthy")
    # The node's own way down: its listener closes for a minute (checks every second, fall 2).
    req = urllib.request.Request("http://127.0.0.92:8080/stop?seconds=60", method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:
        said = r.read().decode().strip()
    t0 = time.monotonic()
    b.wait_for("document.querySelector('#services tr[data-instance=\"web-2\"]').dataset.health === 'unhealthy'",
               10, "the lab's web-2 unhealthy")
    print("dashboard, lab: web-2 (%s) shown unhealthy %.1f s later" % (said, time.monotonic() - t0))
    for name in ("www.alpha.test.", "web.cluster.test.", "nope.alpha.test."):
        query(name, server=LAB_DNS, source="127.0.0.1")
    b.wait_for("[...document.querySelectorAll('#query-rows tr')].some(r => r.textContent.includes('www.alpha.test.'))",
               10, "the lab's query in the Queries view")
    zone = b.wait_for("(() => { const r = [...document.querySelectorAll('#zone-rows tr')]"
                      ".find(r => r.firstChild.textContent === 'cluster.test.');"
                      " const t = r?.nextElementSibling?.querySelector('td[data-replication]')?.textContent || '';"
                      " return (t.match(/current/g) || []).length >= 2 ? t : '' })()",
                      15, "cluster.test.'s two secondaries current")
    b.wait_for("[...document.querySelectorAll('#upstream-rows td')].some(td => td.textContent === '127.0.0.90:53')",
               10, "the discovery server in the Upstreams view")
    print("dashboard, lab: queries, upstreams and cluster.test. shown; its secondaries:", zone)
    return picture(b, tmp, "lab", ["www.alpha.test.", "web.cluster.test.", "mail.alpha.test."], "alpha.test.",
                   {"server": LAB_DNS, "source": "127.0.0.1"})


def check_primary(b):
    """The primary's own dashboard: the secondary that transferred sec.test., current."""
    b.open(UPSTREAM_METRICS + "/")
    line = b.wait_for("(() => { const r = [...document.querySelectorAll('#zone-rows tr')]"
                      ".find(r => r.firstChild.textContent === 'sec.test.');"
                      " return r?.nextElementSibling?.querySelector('td[data-replication]')?.textContent || '' })()",
                      15, "the primary's view of its secondary")
    assert "%s: AXFR" % HOST in line and "serial 1 (current)" in line, line
    errors = b.errors()
    assert not errors, "console errors: %s" % errors
    print("dashboard: the primary's row for sec.test.:", line)


def check_big(b):
    """1,000 instances and 10,000 query-log lines: sizes and render times."""
    for i in range(BIG_LINES):
        query("q%d.big.test." % i, server=(BIG_HOST, 5300), source=BIG_NET + ".0.2", wait=(i % 200 == 0))
    t0 = time.monotonic()
    b.open("http://%s:9153/" % BIG_HOST)
    b.wait_for("document.querySelectorAll('#services tr[data-instance]').length === %d" % BIG_INSTANCES, 30,
               "1,000 instances shown")
    kept = b.wait_for("(() => { const t = document.getElementById('query-count').textContent;"
                      " const m = t.match(/of (\\d+) kept/); return m && +m[1] >= %d ? +m[1] : 0 })()" % (BIG_LINES * 9 // 10),
                      30, "the query lines")
    loaded = time.monotonic() - t0
    b.pump(3)
    stats = b.eval("JSON.stringify(window.ternStats)")
    s = json.loads(stats)
    sizes = {p: len(get("http://%s:9153%s" % (BIG_HOST, p))) for p in ("/api/cluster", "/api/queries", "/api/traffic")}
    print("dashboard, big: %d instances, %d query lines kept by the page, shown in %.1f s" % (BIG_INSTANCES, kept, loaded))
    print("dashboard, big: JSON bytes %s" % sizes)
    print("dashboard, big: render ms per view (last poll) %s" % {k: round(v, 1) for k, v in s["renderMs"].items()})
    # Responsive: a poll's drawing stays well inside its one-second period.
    assert max(s["renderMs"].values()) < 500, s
    errors = b.errors()
    assert not errors, "console errors: %s" % errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tern", default=os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "tern"))
    ap.add_argument("--screenshot", help="copy the screenshot here")
    ap.add_argument("--chromium", default=shutil.which("chromium") or shutil.which("chromium-browser"))
    args = ap.parse_args()
    if not args.chromium:
        print("tests/browser/dashboard.py: skipped: chromium is not installed (apt-get install chromium)")
        return 0
    tern = os.path.abspath(args.tern)
    tmp = tempfile.mkdtemp(prefix="tern-dashboard-")
    run = Run(tmp, tern)
    nodes = {}
    browser = None
    ok = False
    try:
        for i in (1, 2, 3):
            nodes["web-%d" % i] = Node(("%s.0.%d" % (NET, 10 + i), 8080), http=False)
        for i in (1, 2):
            nodes["api-%d" % i] = Node(("%s.0.%d" % (NET, 13 + i), 8081), http=True)
        up = run.serve("upstream", upstream_config(tmp))
        main = run.serve("tern", main_config(tmp))
        big = run.serve("big", big_config(tmp))
        wait_http(METRICS + "/metrics", main, "tern serve")
        wait_http("http://%s:9153/metrics" % BIG_HOST, big, "tern serve (big)")
        for _ in range(50):
            if query("up.test.", qtype=6, server=UPSTREAM) == 0 or up.poll() is not None:
                break
            time.sleep(0.1)
        browser = Browser(args.chromium, os.path.join(tmp, "chromium-profile"), run.log)
        check_main(browser, tmp, nodes)
        check_primary(browser)
        check_big(browser)
        # Last, on its own: the lab's servers take 127.0.0.x:53.
        run.stop()
        run = Run(tmp, tern)
        shot = check_lab(browser, tmp, run.lab())
        if args.screenshot:
            size = os.path.getsize(shot)
            if size < 200 * 1024:
                shutil.copy(shot, args.screenshot)
                print("dashboard: screenshot copied to", args.screenshot, "(%d bytes)" % size)
            else:
                print("dashboard: screenshot of %d bytes not copied (over 200 KB)" % size)
        print("tests/browser/dashboard.py: ok")
        ok = True
        return 0
    except AssertionError as e:
        print("tests/browser/dashboard.py: FAILED:", e)
        print("logs in", tmp)
        return 1
    finally:
        if browser:
            browser.close()
        run.stop()
        for n in nodes.values():
            n.close()
        if ok:
            # Nothing is left behind in the temp dir after a pass (the screenshot goes where
            # --screenshot says; tests/run.sh keeps it in target/).
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
