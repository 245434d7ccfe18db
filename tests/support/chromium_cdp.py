"""Headless Chromium driven over the DevTools protocol (a websocket), for Browser tests.

No browser download and no chromedriver: the machine's `chromium` is started with a remote
debugging port, and commands go over one websocket to its first page. Every host except
127.0.0.1 resolves to nothing, so a page that reaches for the internet (fonts, telemetry, update
checks) fails at once instead of hanging, and the test cannot depend on it.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import websocket

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


class ChromiumError(RuntimeError):
    """The browser did not start, or a page did not reach the expected state."""


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, executable: str, profile: Path, width: int = 1600, height: int = 1000,
                 start_timeout: float = 60.0) -> None:
        self.executable = executable
        self.profile = profile
        self.width = width
        self.height = height
        self.start_timeout = start_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._ws: websocket.WebSocket | None = None
        self._next_id = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Chromium:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self.profile.mkdir(parents=True, exist_ok=True)
        port_file = self.profile / "DevToolsActivePort"
        port_file.unlink(missing_ok=True)
        log = (self.profile / "chromium.log").open("ab")
        self._proc = subprocess.Popen(
            [self.executable, *LAUNCH_FLAGS, f"--user-data-dir={self.profile}",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
             f"--window-size={self.width},{self.height}", "about:blank"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        # Chromium writes the port it picked into the profile once DevTools listens.
        port = self._wait(lambda: _read_port(port_file), self.start_timeout, "DevTools to listen")
        pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in pages if t.get("type") == "page")
        self._ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30,
                                               suppress_origin=True)
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False})

    def stop(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.close()
            self._ws = None
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=20)
            self._proc = None

    def _wait(self, probe: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise ChromiumError(f"chromium exited (code {self._proc.returncode}) while waiting for {what}; "
                                    f"see {self.profile / 'chromium.log'}")
            value = probe()
            if value:
                return value
            time.sleep(0.2)
        raise ChromiumError(f"timed out after {timeout:.0f} s waiting for {what}")

    # -- protocol ----------------------------------------------------------------------------
    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one command and return its result; events arriving meanwhile are dropped."""
        if self._ws is None:
            raise ChromiumError("the browser is not started")
        self._next_id += 1
        sent = self._next_id
        self._ws.send(json.dumps({"id": sent, "method": method, "params": params or {}}))
        while True:
            message = json.loads(self._ws.recv())
            if message.get("id") != sent:
                continue
            if "error" in message:
                raise ChromiumError(f"{method} failed: {message['error']}")
            result: dict[str, Any] = message.get("result", {})
            return result

    def evaluate(self, expression: str) -> Any:
        """The JSON value of a JavaScript expression in the page (promises are awaited)."""
        result = self.call("Runtime.evaluate",
                           {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise ChromiumError(f"page script failed: {result['exceptionDetails'].get('text')} in {expression[:80]}")
        return result.get("result", {}).get("value")

    def wait_until(self, expression: str, timeout: float = 60.0, what: str | None = None) -> Any:
        """Poll a JavaScript expression until it is truthy; returns its value."""
        return self._wait(lambda: self.evaluate(expression), timeout, what or expression)

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})

    def paste(self, selector: str, text: str) -> None:
        """Paste text into the element matching a CSS selector, as a user's Ctrl+V would.

        A paste event carries the text in one piece, so editors like Monaco take it verbatim
        (typed text would be auto-closed and auto-indented on the way in).
        """
        target, payload = json.dumps(selector), json.dumps(text)
        script = (
            f"(() => {{ const el = document.querySelector({target}); if (!el) return false; el.focus();"
            f" const data = new DataTransfer(); data.setData('text/plain', {payload});"
            " el.dispatchEvent(new ClipboardEvent('paste', {clipboardData: data, bubbles: true, cancelable: true}));"
            " return true })()"
        )
        if not self.evaluate(script):
            raise ChromiumError(f"nothing to paste into: no element matches {selector!r}")

    def press(self, key: str, code: str, key_code: int, modifiers: int = 0) -> None:
        """A key press with optional modifiers (2 = Ctrl, 8 = Shift)."""
        common = {"key": key, "code": code, "windowsVirtualKeyCode": key_code, "modifiers": modifiers}
        self.call("Input.dispatchKeyEvent", {"type": "rawKeyDown", **common})
        self.call("Input.dispatchKeyEvent", {"type": "keyUp", **common})

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


def _read_port(port_file: Path) -> int | None:
    try:
        first = port_file.read_text().splitlines()[0].strip()
    except (FileNotFoundError, IndexError):
        return None
    return int(first) if first.isdigit() else None
