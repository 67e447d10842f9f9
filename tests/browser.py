"""Headless Chromium (Debian's package) driven by Playwright; never downloads a browser."""

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
