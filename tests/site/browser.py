"""A headless Chromium driven over the DevTools protocol on a pipe (standard library only).

    with Browser("/usr/bin/chromium") as b:
        b.open("file:///.../index.html", width=1280)
        b.evaluate("document.title")
        b.screenshot("shot.png")

One browser serves every page and every window width: `open` sets the viewport, loads the page,
waits for its load event and collects what the page printed to the console or threw. Chromium
reads the protocol's messages from file descriptor 3 and writes to 4 (`--remote-debugging-pipe`),
each message one JSON object ended by a NUL byte.
"""
import base64
import fcntl
import json
import os
import select
import subprocess
import tempfile
import time


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, chromium, timeout=60.0):
        self.timeout = timeout
        self._profile = tempfile.TemporaryDirectory()
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # The child's ends go to 3 and 4 (after fork, before exec); first they are moved to 10 and
        # up, clear of 3 and 4, and closed on exec, so only the dup2'ed copies reach chromium.
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_child_r, from_child_w)]
        os.close(to_child_r)
        os.close(from_child_w)

        def wire():
            os.dup2(ends[0], 3)
            os.dup2(ends[1], 4)

        self._proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--user-data-dir=" + self._profile.name, "--remote-debugging-pipe",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire, close_fds=False)
        for fd in ends:
            os.close(fd)
        self._buffer, self._next_id, self.events = b"", 0, []
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")

    # --- the protocol -------------------------------------------------------------------------
    def _send(self, method, params, session):
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        return self._next_id

    def _read_message(self, deadline):
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                raise BrowserError("chromium did not answer within %.0f s" % self.timeout)
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                raise BrowserError("chromium closed the pipe (exit status %s)" % self._proc.poll())
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def _call(self, method, params=None, session=None):
        want = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self._read_message(deadline)
            if msg.get("id") == want:
                if "error" in msg:
                    raise BrowserError("%s: %s" % (method, msg["error"].get("message")))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)

    def call(self, method, params=None):
        return self._call(method, params, self._session)

    def _wait_event(self, method):
        deadline = time.monotonic() + self.timeout
        while True:
            for i, e in enumerate(self.events):
                if e["method"] == method:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    # --- what the checks use -------------------------------------------------------------------
    def open(self, url, width, height=900):
        """Load `url` in a `width` x `height` viewport; wait for its load event."""
        self.events = []
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.call("Page.navigate", {"url": url})
        self._wait_event("Page.loadEventFired")

    def evaluate(self, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in r:
            raise BrowserError("evaluate %r: %s" % (expression, r["exceptionDetails"].get("text")))
        return r["result"].get("value")

    def wait_for(self, expression, timeout=20.0):
        """Poll until `expression` is true in the page; False if it never is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.evaluate(expression):
                return True
            time.sleep(0.05)
        return False

    def console(self):
        """What the page printed to the console, threw, or logged as an error, as strings."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled":
                out.append("console.%s: %s" % (p["type"], " ".join(str(a.get("value", a.get("description")))
                                                                  for a in p.get("args", []))))
            elif e["method"] == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("uncaught: %s" % d.get("exception", {}).get("description", d.get("text")))
            elif e["method"] == "Log.entryAdded":
                entry = p.get("entry", {})
                out.append("log %s: %s" % (entry.get("level"), entry.get("text")))
        return out

    def screenshot(self, path, top=0, height=None):
        """A PNG of the page from `top` down, `height` pixels (the whole page if None)."""
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        height = size["height"] - top if height is None else min(height, size["height"] - top)
        clip = {"x": 0, "y": top, "width": size["width"], "height": height, "scale": 1}
        data = self.call("Page.captureScreenshot",
                         {"format": "png", "captureBeyondViewport": True, "clip": clip})["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self._call("Browser.close")
        except BrowserError:
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)
        self._profile.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
