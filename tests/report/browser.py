"""A headless Chromium driven over the DevTools protocol on a pipe (no port, no extra
package): open a page, collect console errors, evaluate an expression, take a screenshot.

Chromium reads protocol messages on file descriptor 3 and writes on 4
(``--remote-debugging-pipe``), each a JSON text ended by a NUL byte.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
TIMEOUT = 60.0
#: Moves the two pipe ends onto the descriptors Chromium expects, then runs it.
_LAUNCH = 'exec 3<&"$1" 4>&"$2"; shift 2; exec "$@"'


class BrowserError(RuntimeError):
    """Chromium did not answer, or answered a command with an error."""


def find_or_install_chromium() -> str | None:
    """The Chromium binary; tries ``apt-get install -y chromium`` once when missing."""
    found = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if found or shutil.which("apt-get") is None or os.geteuid() != 0:
        return found
    subprocess.run(
        ["apt-get", "install", "-y", "chromium"],
        capture_output=True,
        timeout=900,
        check=False,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    return shutil.which("chromium")


class Chromium:
    """One headless Chromium process with a fresh profile in `profile`."""

    def __init__(self, binary: str, profile: Path) -> None:
        to_chrome, self._write = os.pipe()
        self._read, from_chrome = os.pipe()
        arguments = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            ["bash", "-c", _LAUNCH, "bash", str(to_chrome), str(from_chrome), binary, *arguments],
            pass_fds=(to_chrome, from_chrome),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome)
        os.close(from_chrome)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict[str, Any]] = []

    def close(self) -> None:
        """Stop this Chromium process and close the pipe."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        text, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(text)

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Run one protocol command and return its result; events meanwhile are kept."""
        self._next_id += 1
        command = {"id": self._next_id, "method": method, "params": params}
        if session:
            command["sessionId"] = session
        os.write(self._write, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self._message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, method: str, session: str) -> dict[str, Any]:
        """The first event `method` of `session` (already received or next to come)."""
        deadline = time.monotonic() + TIMEOUT
        seen = 0
        while True:
            for event in self.events[seen:]:
                if event.get("method") == method and event.get("sessionId") == session:
                    return event
            seen = len(self.events)
            self.events.append(self._message(deadline))

    def session_events(self, session: str) -> list[dict[str, Any]]:
        """Every event received so far from one page session."""
        return [e for e in self.events if e.get("sessionId") == session]


@dataclass(frozen=True)
class Rendered:
    """What one page load showed: console errors, images, requests and a screenshot."""

    errors: list[str]
    images: list[dict[str, Any]]
    requests: list[str]
    screenshot: bytes


_IMAGES = (
    "Array.from(document.images, i => ({alt: i.alt, complete: i.complete, "
    "naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight}))"
)


def render(browser: Chromium, url: str, width: int = 1280) -> Rendered:
    """Load `url` in a new tab until its load event, then inspect it and take a full-page
    screenshot."""
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.send(f"{domain}.enable", session)
    browser.send(
        "Emulation.setDeviceMetricsOverride",
        session,
        width=width,
        height=900,
        deviceScaleFactor=1,
        mobile=False,
    )
    browser.send("Page.navigate", session, url=url)
    browser.wait_for("Page.loadEventFired", session)
    images = browser.send("Runtime.evaluate", session, expression=_IMAGES, returnByValue=True)
    size = browser.send("Page.getLayoutMetrics", session)["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
    shot = browser.send(
        "Page.captureScreenshot", session, format="png", captureBeyondViewport=True, clip=clip
    )
    events = browser.session_events(session)
    browser.send("Target.closeTarget", targetId=target)
    return Rendered(
        errors=[text for e in events if (text := _error(e))],
        images=images["result"]["value"],
        requests=[url for e in events if (url := _request(e))],
        screenshot=base64.b64decode(shot["data"]),
    )


def _request(event: dict[str, Any]) -> str | None:
    """The URL a request event fetched, unless it is an inline ``data:`` URI."""
    if event["method"] != "Network.requestWillBeSent":
        return None
    url = event["params"]["request"]["url"]
    return None if url.startswith("data:") else url


def _error(event: dict[str, Any]) -> str | None:
    """The text of a console error, an uncaught exception or an error log entry."""
    method, params = event["method"], event.get("params", {})
    if method == "Runtime.exceptionThrown":
        return params["exceptionDetails"].get("text", "exception")
    if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
        return " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
    if method == "Log.entryAdded" and params["entry"]["level"] == "error":
        return f"{params['entry']['source']}: {params['entry']['text']}"
    return None
