"""Headless Chromium (Debian's package) driven by Playwright; never downloads a browser.

:func:`open_page` starts a browser for one page; :class:`BrowserSession` keeps one browser for a
whole test module (``browser_session`` fixture) and opens pages in fresh contexts.
"""

from __future__ import annotations

import contextlib
import shutil

import pytest

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


@contextlib.contextmanager
def open_page(url: str, width: int = 1366, height: int = 768):
    """Open ``url``; yields ``(page, console_errors, external_requests)``. Requests that leave the
    machine (anything but file:, data:, blob: or localhost) are aborted and recorded."""
    if not shutil.which(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install.sh --test (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    external: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))

        def route(r):
            u = r.request.url
            if u.startswith(("file:", "data:", "blob:", "http://127.0.0.1", "http://localhost")):
                r.continue_()
            else:
                external.append(u)
                r.abort()

        page.route("**/*", route)
        page.goto(url)
        page.wait_for_load_state("load")
        try:
            yield page, errors, external
        finally:
            browser.close()


def _route_offline(external: list[str]):
    def route(r):
        u = r.request.url
        if u.startswith(("file:", "data:", "blob:", "http://127.0.0.1", "http://localhost")):
            r.continue_()
        else:
            external.append(u)
            r.abort()

    return route


class BrowserSession:
    """One headless Chromium for many pages (start it once per test module: it takes a second)."""

    def __init__(self):
        if not shutil.which(CHROMIUM):
            pytest.fail(f"{CHROMIUM} is missing: run scripts/install.sh --test (installs Debian's chromium)")
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        self.errors: list[str] = []  # console errors and page errors of every page opened
        self.external: list[str] = []  # requests that tried to leave the machine (aborted)

    @contextlib.contextmanager
    def page(self, url: str, width: int = 1366, height: int = 768):
        """Open ``url`` in a fresh context of the given viewport; yields the page. Console errors
        and requests leaving the machine are collected in ``errors`` and ``external``."""
        context = self.browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        page.on("console", lambda m: self.errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: {e}"))
        page.route("**/*", _route_offline(self.external))
        page.goto(url)
        page.wait_for_load_state("load")
        try:
            yield page
        finally:
            context.close()

    def close(self) -> None:
        self.browser.close()
        self._pw.stop()


@pytest.fixture(scope="module")
def browser_session():
    """A :class:`BrowserSession` shared by the tests of one module."""
    session = BrowserSession()
    yield session
    session.close()
