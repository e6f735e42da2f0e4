"""A headless Chromium page of the app, for the browser tests: Debian's chromium driven by Playwright (never a
downloaded browser), and a wait for the queue-less events an action sets off."""
import contextlib
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="needs Debian's chromium: apt-get install -y chromium chromium-driver")
SHOTS = ROOT / "test-artifacts"


def settled(page, action, path: str = "/gradio_api/run/predict", quiet_ms: int = 500, timeout_s: float = 30):
    """Do action, then wait until the queue-less events it set off (a photo's change: two posts after an upload)
    have answered and no more came for quiet_ms. A run clicked before then can meet the change's cancel: a person's
    click comes hundreds of milliseconds after the photo shows, a test's in the same millisecond."""
    pending, last = set(), [time.monotonic(), False]

    def sent(request):
        if path in request.url:
            pending.add(request)
            last[:] = [time.monotonic(), True]

    def done(request):
        if request in pending:
            pending.discard(request)
            last[0] = time.monotonic()
    listeners = {"request": sent, "requestfinished": done, "requestfailed": done}
    for name, fn in listeners.items():
        page.on(name, fn)
    action()
    deadline = time.monotonic() + timeout_s
    while not (last[1] and not pending and time.monotonic() - last[0] >= quiet_ms / 1000):
        assert time.monotonic() < deadline, f"no answer to {path} within {timeout_s} s"
        page.wait_for_timeout(50)
    for name, fn in listeners.items():
        page.remove_listener(name, fn)


@contextlib.contextmanager
def app_page(server, height: int = 1100, width: int = 1280, locale: str = "en-US"):
    """A page of the app in a headless Chromium, English and 1280 px wide unless told; the browser closed after."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(locale=locale, viewport={"width": width, "height": height})
        page.set_default_timeout(60_000)
        page.goto(server)
        try:
            yield page, sync_api.expect
        finally:
            browser.close()
