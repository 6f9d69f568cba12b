"""One headless Chromium tab driven over the DevTools protocol, for scripts and tests against a live Odoo.

    with Browser() as browser:
        browser.login("http://127.0.0.1:8069", "mydb")
        browser.goto("http://127.0.0.1:8069/odoo/action-...", ".o_form_view")
        browser.shot(Path("docs/page.png"))

``websocket-client`` (a dependency of Odoo) carries the protocol; no Odoo
is imported. Used by tests/ui/demo_screenshots.py and the browser tests of
tests/e2e.
"""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket

WIDTH, HEIGHT = 1280, 800
CHROMIUM = "/usr/bin/chromium"


class Browser:
    """One headless Chromium tab; ``errors`` holds what the page threw or logged as an error."""

    def __init__(self) -> None:
        # Chromium's helper processes may still write to the profile as it is removed.
        self.profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
             f"--user-data-dir={self.profile.name}", f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port_file = Path(self.profile.name) / "DevToolsActivePort"
        for _attempt in range(100):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        tabs = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
        page = next(tab for tab in tabs if tab["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60)
        self.ids = itertools.count(1)
        self.errors: list[str] = []
        self.console: list[str] = []  # every console message of the page, errors included
        self.send("Runtime.enable")
        self.send("Page.enable")
        self.send("Emulation.setDeviceMetricsOverride",
                  width=WIDTH, height=HEIGHT, deviceScaleFactor=1, mobile=False)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, method: str, **params: Any) -> dict:
        call_id = next(self.ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("method") == "Runtime.exceptionThrown":
                details = message["params"]["exceptionDetails"]
                self.errors.append(details.get("exception", {}).get("description") or details.get("text", "?"))
            if message.get("method") == "Runtime.consoleAPICalled":
                args = message["params"]["args"]
                text = " ".join(str(a.get("value", a.get("description"))) for a in args)
                self.console.append(text)
                if message["params"]["type"] == "error":
                    self.errors.append(text)
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def js(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        return result.get("result", {}).get("value")

    def read_events(self) -> None:
        """Take in what the page logged or threw since the last call (only read while a call waits)."""
        self.send("Runtime.evaluate", expression="0")

    def goto(self, url: str, wait_for: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait(wait_for)

    def login(self, base: str, db: str, login: str = "admin", password: str = "admin") -> None:
        self.goto(f"{base}/web/login?db={db}", "input[name=login]")
        self.js(f"document.querySelector('input[name=login]').value={json.dumps(login)};"
                f"document.querySelector('input[name=password]').value={json.dumps(password)};"
                "document.querySelector('form.oe_login_form').submit()")
        self.wait(".o_main_navbar")

    def wait(self, selector: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        probe = f"!!document.querySelector({json.dumps(selector)})"
        while time.monotonic() < deadline:
            if self.js(probe):
                time.sleep(0.6)  # let the view settle (fonts, transitions)
                return
            time.sleep(0.3)
        raise TimeoutError(f"{selector!r} did not appear within {timeout:.0f} s")

    def click(self, selector: str) -> None:
        if not self.js(f"(() => {{ const el = document.querySelector({json.dumps(selector)}); "
                       f"if (!el) return false; el.click(); return true; }})()"):
            raise LookupError(f"nothing to click at {selector!r}")

    def shot(self, path: Path) -> None:
        # A database installed minutes ago still generates Odoo's asset bundles, and
        # each new one broadcasts "The page is out of date"; it says nothing of the demo.
        self.js("document.querySelectorAll('.o_notification').forEach((n) => {"
                " if (/out of date/.test(n.innerText)) n.querySelector('.o_notification_close')?.click(); })")
        time.sleep(0.3)
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.ws.close()
        self.process.terminate()
        self.process.wait(10)
        self.profile.cleanup()
