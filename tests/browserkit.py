"""One way for browser tests to start the real server and walk it in Debian chromium.

Every browser test (``tests/test_browser*.py``) starts ``workbench serve`` through
:func:`serving`, signs in through :func:`sign_in` and checks each page it lands on
with :func:`check_page`, which fails on any traceback or exception text a page shows
(Streamlit renders an uncaught exception as an ``stException`` block).
Screenshots go to ``tests/artifacts/`` (git-ignored) through :func:`shot`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from workbench.engine import free_port

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Text a page must never show: Python's traceback header and exception class names.
_TRACEBACK = re.compile(r"Traceback \(most recent call last\)|\b[A-Z][A-Za-z]*(Error|Exception):\s")


def workbench_command() -> list[str]:
    script = shutil.which("workbench", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "workbench.cli"]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"workbench serve exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"the app did not answer at {url} within {timeout:.0f} s")


@contextlib.contextmanager
def serving(base: Path, demo_out: str, *flags: str, lake_root: str | None = None,
            key_file: str | None = None, **env_extra: str):
    """``workbench serve`` on a free port; yields its URL.

    *lake_root* defaults to an empty lake under *base*; pass a built lake (conftest's
    ``demo_lake``) to walk workflows on the demo. The server's log is ``base/server.log``.
    """
    port = free_port()
    env = dict(os.environ, WORKBENCH_LAKE_ROOT=lake_root or str(base / "lake"), WORKBENCH_DEMO_OUT=demo_out,
               WORKBENCH_PRIVACY_KEY_FILE=key_file or str(base / "pseudonym.key"), WORKBENCH_UI_LANGUAGE="en",
               RUST_LOG="error", **env_extra)
    env.pop("WORKBENCH_ENGINE_REMOTE", None)  # serve starts its own supervised Sail
    log = (base / "server.log").open("wb")
    # Its own process group, so the app and its Sail child stop together.
    proc = subprocess.Popen([*workbench_command(), "serve", *flags, "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        # serve stops its app, then its engine, on SIGTERM; anything of the group
        # left after that is killed so no server outlives the test.
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()


def require_chromium() -> None:
    import pytest

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (make test and .ci/run do this)")


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    """A fresh headless chromium page (no cookies shared with any other page)."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


# Streamlit scrolls inside its main block, not the document, so Playwright's full-page
# screenshot stops at the viewport. The tallest scrolling block's height is the page's.
_CONTENT_HEIGHT = """() => Math.max(document.documentElement.scrollHeight,
    ...Array.from(document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"],'
                                            + ' [data-testid="stSidebarContent"]'), e => e.scrollHeight))"""
_TALLEST_SHOT = 16_000  # px: beyond this chromium's capture is unreliable


def shot(page, name: str) -> Path:
    """A screenshot of the whole page, charts below the fold included."""
    path = ARTIFACTS / f"{name}.png"
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    height = int(page.evaluate(_CONTENT_HEIGHT) or 0)
    if size and height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": min(height, _TALLEST_SHOT)})
        page.wait_for_timeout(700)  # charts redraw for the new size
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        if size and height > size["height"]:
            page.set_viewport_size(size)
    return path


def check_page(page, where: str) -> None:
    """Fail if the page shows an exception block or traceback text (screenshot kept)."""
    page.wait_for_timeout(300)
    blocks = page.locator("[data-testid='stException']")
    text = page.locator("body").inner_text()
    if blocks.count() or _TRACEBACK.search(text):
        shot(page, f"traceback_{where}")
        found = blocks.first.inner_text() if blocks.count() else _TRACEBACK.search(text).group(0)
        raise AssertionError(f"{where}: the page shows an exception: {found[:500]}")


def sign_in(page, url: str, username: str, password: str | None = None) -> None:
    from playwright.sync_api import expect

    page.goto(url)
    page.locator(".st-key-signin_username input").fill(username)
    page.locator(".st-key-signin_password input").fill(password or f"{username}-demo")
    page.locator(".st-key-signin_submit button").click()
    expect(page.locator(".st-key-signout")).to_be_visible(timeout=60_000)


def sign_out(page) -> None:
    page.locator(".st-key-signout button").click()
    page.locator(".st-key-signin_username").wait_for(timeout=60_000)


# A table wider than its box whose reader cannot see that it scrolls, or cannot scroll it: a data
# grid whose scroller's scrollbar is transparent (Streamlit shows it only under the pointer) or
# does not scroll, and a static table that clips. The pointer is moved off every table first.
_CUT_TABLES = """() => {
  const cut = [], wide = [];
  const hidden = c => !c || c === 'transparent' || /^rgba\\([^)]*,\\s*0\\)\\s+/.test(c) || c.startsWith('transparent');
  for (const el of document.querySelectorAll('[data-testid="stDataFrame"], [data-testid="stTable"]')) {
    const grid = el.getAttribute('data-testid') === 'stDataFrame';
    const box = grid ? el.querySelector('.dvn-scroller') : el;
    if (!box || box.scrollWidth <= box.clientWidth + 1) continue;
    const key = (el.closest('[class*="st-key-"]')?.className.match(/st-key-(\\S+)/) || [, el.getAttribute('data-testid')])[1];
    wide.push(key);
    const style = getComputedStyle(box);
    if (!['auto', 'scroll'].includes(style.overflowX) || hidden(style.scrollbarColor))
      cut.push(`${key}: ${box.scrollWidth} px in ${box.clientWidth} (overflow ${style.overflowX}, scrollbar ${style.scrollbarColor})`);
  }
  return {cut, wide};
}"""


def cut_tables(page) -> dict[str, list[str]]:
    """``wide``: the keys of the page's tables wider than their box; ``cut``: those of them whose
    hidden columns a reader cannot find (no scrollbar in sight, or no scrolling at all)."""
    page.mouse.move(1, 1)  # off every table: Streamlit shows a scrollbar only under the pointer
    page.wait_for_timeout(200)
    return page.evaluate(_CUT_TABLES)
