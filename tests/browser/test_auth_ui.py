"""Accounts in a real browser: a cross-site form refused, and login, users, tokens, password
change and logout through the pages."""
from __future__ import annotations

import http.server
import os
import threading
from functools import partial

import pytest
import requests

from tests.conftest import ADMIN_PASSWORD, PASSWORD_MODE, free_port

pytestmark = [pytest.mark.browser, pytest.mark.server]
SHOTS = os.environ.get("DIGITSX_SCREENSHOTS")

EVIL = """<!doctype html><html><body>
<form id="f" method="post" action="{action}">
  <input name="method" value="custom"><input name="username" value="alice">
  <textarea name="custom_network">import pathlib
pathlib.Path({marker!r}).touch()
def build(a, b, c):
    return None
</textarea></form>
<script>document.getElementById("f").submit();</script></body></html>"""


class EvilSite:
    """Another origin serving one page that auto-submits a form to the digitsx server."""

    def __init__(self, folder, html: str) -> None:
        (folder / "evil.html").write_text(html)
        handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *a: None
        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def ui_login(page, server, user: str, password: str | None = None, expect: str = "/"):
    page.goto(server.url + "/login")
    page.fill("#username", user)
    if password is not None:
        page.fill("#password", password)
    page.click("#login-form button[type=submit]")
    if expect:
        page.wait_for_url(server.url + expect)


@pytest.mark.parametrize("mode", ["open", "password"])
def test_a_cross_site_form_cannot_run_code(server_factory, page, tmp_path, mode):
    server = server_factory(**(PASSWORD_MODE if mode == "password" else {}))
    ui_login(page, server, "admin" if mode == "password" else "alice",
             ADMIN_PASSWORD if mode == "password" else None)
    marker = tmp_path / "pwned"
    action = server.url + "/models/images/classification/visualize-network"
    evil_dir = tmp_path / "evil"
    evil_dir.mkdir()
    site = EvilSite(evil_dir, EVIL.format(action=action, marker=str(marker)))
    try:
        # localhost is another site than 127.0.0.1; 127.0.0.1 on another port the same site
        for host in ("localhost", "127.0.0.1"):
            page.goto(f"http://{host}:{site.port}/evil.html")
            page.wait_for_url(action, timeout=15000)
            body = page.inner_text("body")
            assert "403" in body and "Cross-site request refused" in body, body
    finally:
        site.close()
    assert not marker.exists()
    # the same browser, on the site itself, still works
    page.goto(server.url + "/")
    assert page.locator("#nav-account").inner_text() in ("admin", "alice")
    assert page.js_errors == []


def test_accounts_through_the_pages(server_factory, page):
    server = server_factory(**PASSWORD_MODE)
    page.goto(server.url + "/")
    page.wait_for_url("**/login?next=/")
    ui_login(page, server, "admin", "not-the-password", expect="")
    page.locator("#login-error", has_text="Wrong username or password").wait_for()
    assert "/login" in page.url
    ui_login(page, server, "admin", ADMIN_PASSWORD)

    # Users: create bob without code permission, then allow it
    page.click("#nav-users")
    page.wait_for_url("**/admin/users")
    page.fill("#new-username", "bob")
    page.fill("#new-password", "bob-password")
    page.click("#new-user-form button[type=submit]")
    page.locator(".flash", has_text="User bob created.").wait_for()
    row = page.locator("tr[data-user=bob]")
    assert row.locator("td").nth(2).inner_text() == "—"
    row.locator("button.grant-code").click()
    page.locator(".flash", has_text="User bob updated.").wait_for()
    assert page.locator("tr[data-user=bob] td").nth(2).inner_text() == "yes"
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "users.png"), full_page=True)

    # Tokens: made, shown once, used by a script, revoked
    page.click("#nav-account")
    page.wait_for_url("**/account")
    page.fill("#token-name", "nightly script")
    page.click("#token-form button[type=submit]")
    token = page.locator("#new-token-value").inner_text().strip()
    assert token.startswith("dxt_")
    bearer = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    assert requests.get(server.url + "/index.json", headers=bearer).ok
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, "account.png"), full_page=True)
    page.goto(server.url + "/account")
    assert page.locator("#new-token-value").count() == 0  # shown only once
    page.locator("#token-table tr", has_text="nightly script").locator("button").click()
    page.locator(".flash", has_text="Token revoked.").wait_for()
    assert requests.get(server.url + "/index.json", headers=bearer).status_code == 401

    # Password change, log out, log in with the new password
    page.fill("#current_password", ADMIN_PASSWORD)
    page.fill("#new_password", "a-new-admin-password")
    page.fill("#confirm_password", "a-new-admin-password")
    page.click("#password-form button[type=submit]")
    page.locator(".flash", has_text="Password changed").wait_for()
    page.click("#logout-form button")
    page.wait_for_url("**/login")
    assert page.locator("#nav-account").count() == 0
    ui_login(page, server, "admin", ADMIN_PASSWORD, expect="")
    page.locator("#login-error").wait_for()
    ui_login(page, server, "admin", "a-new-admin-password")
    assert page.js_errors == []
