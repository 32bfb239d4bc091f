"""A tiny Chrome DevTools Protocol client over --remote-debugging-pipe (no socket, no
third-party module): Chromium reads commands from its fd 3 and writes answers and events to
its fd 4, each one JSON message ended by a NUL byte."""

import fcntl
import json
import os
import select
import subprocess
import time


class Browser:
    def __init__(self, chromium, profile, log):
        # Ours: write commands to `to_child`, read from `from_child`.
        child_in, self.to_child = os.pipe()
        self.from_child, child_out = os.pipe()

        def fds():
            # Out of the way first, so neither lands on the other's target number; dup2
            # leaves 3 and 4 open across exec (without close-on-exec).
            a = fcntl.fcntl(child_in, fcntl.F_DUPFD_CLOEXEC, 10)
            b = fcntl.fcntl(child_out, fcntl.F_DUPFD_CLOEXEC, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--remote-debugging-pipe",
                "--user-data-dir=" + profile,
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-gpu",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-sandbox",
                "--window-size=1280,1600",
                "about:blank",
            ],
            # Not closed after `fds` ran (Popen closes the others after preexec_fn); ours are
            # close-on-exec anyway, so only 3 and 4 reach chromium.
            close_fds=False,
            preexec_fn=fds,
            stdout=log,
            stderr=log,
            # Chromium makes a folder of its own in TMPDIR (org.chromium.Chromium.*) and leaves
            # it behind: put it beside the profile, in the run's folder that is removed after.
            env=dict(os.environ, TMPDIR=os.path.dirname(profile)),
        )
        os.close(child_in)
        os.close(child_out)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def close(self):
        """Kills the browser we started, by its PID."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        os.close(self.to_child)
        os.close(self.from_child)

    def _read(self, timeout):
        """The next message, or None after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.from_child], [], [], left)[0]:
                return None
            chunk = os.read(self.from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed its pipe (exit %s)" % self.proc.poll())
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._read(max(0.0, deadline - time.monotonic()))
            if m is None:
                raise RuntimeError("no answer to " + method)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def pump(self, seconds):
        """Collects events for `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            m = self._read(deadline - time.monotonic())
            if m is not None and "method" in m:
                self.events.append(m)

    def open(self, url):
        """Opens `url` in a new tab, closing the previous one (whose page would go on polling
        a server that a test may stop next)."""
        if getattr(self, "target", None):
            self.call("Target.closeTarget", {"targetId": self.target}, session=False)
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)
        self.target = target["targetId"]
        attached = self.call(
            "Target.attachToTarget",
            {"targetId": target["targetId"], "flatten": True},
            session=False,
        )
        self.session = attached["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.call(domain + ".enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1200, "height": 1250, "deviceScaleFactor": 1, "mobile": False},
        )
        self.call("Page.navigate", {"url": url})

    def eval(self, expression):
        r = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True}
        )
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_for(self, expression, timeout, what):
        """Evaluates `expression` until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.eval(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for " + what)
            self.pump(0.2)

    def errors(self):
        """Console errors and uncaught exceptions seen so far in the current tab."""
        out = []
        for e in self.events:
            if e.get("sessionId") != self.session:
                continue
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append(json.dumps(p.get("exceptionDetails", {}))[:300])
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") == "error":
                out.append(json.dumps(p.get("args", []))[:300])
            elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append(p["entry"].get("text", "")[:300])
        return out
