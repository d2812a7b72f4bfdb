"""A real browser: Debian chromium driven by Playwright (no browser download)."""
from __future__ import annotations

import shutil

import pytest


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium")
    if exe is None:
        pytest.fail("Debian chromium is not installed: run the README's test command "
                    "(it installs it with apt-get)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.js_errors = errors
    yield page
    # DIGITSX_SCREENSHOTS=DIR: each browser test's last page saved as DIR/<test>.png (for notes
    # and reviews: what the page looked like when the test's checks had passed)
    from tests.browser.shots import shot
    shot(page, request.node.name)
    context.close()
