"""Authentication and authorisation through the app (test client): both modes, tokens, CSRF,
cross-site refusals, can_run_code, admin overrides, throttling, the users CLI."""
from __future__ import annotations

import base64
import os
import re
import stat
import time

import pytest

from tests.conftest import login, run_job, wait_for

JSON = {"Accept": "application/json"}
ADMIN_PW = "admin-password-1"


@pytest.fixture
def papp(make_app):
    """An app in password mode whose admin password is known."""
    return make_app(AUTH="password", ADMIN_PASSWORD=ADMIN_PW)


def plogin(client, name: str, password: str, status: int = 200):
    res = client.post("/login", json={"username": name, "password": password})
    assert res.status_code == status, res.data
    return res.get_json()


def csrf(client, name: str = "admin", password: str = ADMIN_PW) -> dict:
    """Log in and return the header that state-changing requests need."""
    return {"X-CSRFToken": plogin(client, name, password)["csrf_token"], **JSON}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", **JSON}


def make_user(papp, name: str, **flags) -> tuple:
    """Create ``name`` as the admin; (client logged in as name, its CSRF header, a token)."""
    admin = papp.test_client()
    headers = csrf(admin)
    res = admin.post("/api/users", json={"username": name, "password": f"{name}-password",
                                         **flags}, headers=headers)
    assert res.status_code == 201, res.data
    client = papp.test_client()
    h = csrf(client, name, f"{name}-password")
    token = client.post("/api/tokens", json={"name": "t"}, headers=h).get_json()["token"]
    return client, h, token


def cookie(res, name="digitsx_"):
    """The session cookie a response sets (each server names its own: ``digitsx_<hash>``)."""
    return next((c for c in res.headers.getlist("Set-Cookie") if c.startswith(name)), None)


def test_two_servers_on_one_host_keep_their_own_sessions(tmp_path):
    """A cookie belongs to the host whatever the port: each server names its own session
    cookie after its secret, so a login to one leaves the other's session alone."""
    from digitsx import create_app

    names = []
    for k in range(2):
        app = create_app({"JOBS_DIR": str(tmp_path / f"jobs{k}"), "TESTING": True,
                          "SCHEDULER_AUTOSTART": False, "PRESTART_WORKER": False})
        try:
            res = app.test_client().post("/login", data={"username": "alice"})
            names.append(cookie(res).split("=")[0])
        finally:
            app.extensions["digitsx"].stop()
    assert names[0] != names[1] and all(n.startswith("digitsx_") for n in names)


# --- open mode ----------------------------------------------------------------------------
def test_open_mode_username_field_never_overrides_a_session(app, client):
    login(client, "alice")
    res = client.post("/test/jobs.json", data={"steps": 1, "username": "bob"})
    assert res.status_code == 200 and res.get_json()["username"] == "alice"
    job = res.get_json()
    other = app.test_client()
    login(other, "bob")
    # bob's session wins over a username=alice field: he may not abort alice's job
    res = other.post(f"/jobs/{job['id']}/abort", data={"username": "alice"}, headers=JSON)
    assert res.status_code == 403


def test_a_bad_identity_on_a_page_is_an_error_page_not_a_500(client, papp):
    res = client.get("/?username=Not%20Valid", headers={"Accept": "text/html"})
    assert res.status_code == 400 and b"lowercase letter" in res.data
    res = papp.test_client().get("/", headers={"Authorization": "Bearer nope",
                                               "Accept": "text/html"})
    assert res.status_code == 401 and b"invalid, expired or revoked" in res.data


def test_open_mode_bad_usernames_are_400_never_500(client):
    res = client.post("/login", json={"username": ["alice"]})
    assert res.status_code == 400 and "string" in res.get_json()["errors"]["username"][0]
    assert cookie(res) is None  # a refused login leaves the session alone
    res = client.post("/test/jobs.json", json={"steps": 1, "username": {"a": 1}})
    assert res.status_code == 400
    assert client.post("/login", data="[1, 2]", content_type="application/json").status_code == 400


def test_open_mode_answers_only_loopback_host_names(client):
    # DNS rebinding: a name that resolves to 127.0.0.1 must not reach an open-mode server
    res = client.get("/index.json", headers={"Host": "evil.example:5000"})
    assert res.status_code == 403 and "localhost" in res.get_json()["error"]["message"]
    for host in ("localhost:5000", "127.0.0.1:5000", "[::1]:5000", "app.localhost"):
        assert client.get("/index.json", headers={"Host": host}).status_code == 200, host


def test_cross_site_posts_are_refused_in_open_mode_too(client):
    code = {"method": "custom", "custom_network": "import os\nos.system('touch /tmp/pwned')",
            "username": "alice"}
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"},
                    {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"},
                    {"Origin": "http://localhost:5001"}):
        res = client.post("/models/images/classification/visualize-network", data=code,
                          headers={**headers, **JSON})
        assert res.status_code == 403, headers
        assert "Cross-site request refused" in res.get_json()["error"]["message"]
        assert cookie(res) is None  # nor may it touch (log out) the user's session
    # a same-origin browser request still needs the CSRF token
    res = client.post("/test/jobs.json", data={"steps": 1, "username": "alice"},
                      headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"})
    assert res.status_code == 403 and "CSRF" in res.get_json()["error"]["message"]


def test_open_mode_login_next_stays_inside_the_site(client):
    for target in ("/\t/evil.example", "//evil.example", "https://evil.example", "/\\evil.example",
                   "javascript:alert(1)", " //evil.example", "/%0a/evil"):
        res = client.post("/login", data={"username": "alice", "next": target})
        assert res.status_code == 302
        location = res.headers["Location"]
        assert location in ("/", "/%0a/evil"), (target, location)
    res = client.post("/login", data={"username": "alice", "next": "/models/x?a=1"})
    assert res.headers["Location"] == "/models/x?a=1"


def test_session_cookie_flags(client):
    res = client.post("/login", data={"username": "alice"}, headers=JSON)
    set_cookie = cookie(res)
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    assert "Secure" not in set_cookie
    expires = re.search(r"Expires=([^;]+)", set_cookie).group(1)
    lasts = time.mktime(time.strptime(expires, "%a, %d %b %Y %H:%M:%S GMT")) - time.mktime(time.gmtime())
    assert lasts < 8 * 86400  # a week, not Flask's 31 days
    res = client.post("/login", data={"username": "alice"}, headers=JSON,
                      base_url="https://localhost")
    assert "Secure" in cookie(res)


# --- password mode ------------------------------------------------------------------------
def test_password_mode_needs_a_login_everywhere(papp):
    client = papp.test_client()
    admin = papp.test_client()
    job = run_job(papp, admin, headers=csrf(admin), steps=1)
    for url in ("/index.json", "/completed_jobs.json", f"/jobs/{job['id']}.json",
                f"/jobs/{job['id']}/status", f"/jobs/{job['id']}/log.json",
                f"/files/{job['id']}/spec.json", f"/models/{job['id']}/download.zip",
                "/api/openapi.json", "/gpus.json", "/account.json", "/api/tokens"):
        res = client.get(url, headers=JSON)
        assert res.status_code == 401, url
        assert "Log in first" in res.get_json()["error"]["message"]
    page = client.get(f"/jobs/{job['id']}", headers={"Accept": "text/html"})
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=/jobs/")
    login_page = client.get(page.headers["Location"])
    assert login_page.status_code == 200 and b'name="password"' in login_page.data
    assert client.get("/static/js/common.js").status_code == 200
    # the username field is ignored: it never logs anyone in
    res = client.post("/test/jobs.json", data={"steps": 1, "username": "admin"}, headers=JSON)
    assert res.status_code == 401
    res = client.get("/index.json?username=admin", headers=JSON)
    assert res.status_code == 401


def test_password_login_errors_leave_the_session_alone(papp):
    client = papp.test_client()
    res = client.post("/login", data={"username": "admin"}, headers=JSON)
    assert res.status_code == 401 and "password" in res.get_json()["error"]["message"]
    for body in ({"username": "admin", "password": "wrong"}, {"username": "nobody", "password": "x"},
                 {"username": ["admin"], "password": ADMIN_PW},
                 {"username": "admin", "password": {"a": 1}}):
        res = client.post("/login", json=body)
        assert res.status_code == 401, body
        assert res.get_json()["error"]["message"].startswith("Wrong username or password")
        assert cookie(res) is None
    assert client.get("/index.json", headers=JSON).status_code == 401
    data = plogin(client, "admin", ADMIN_PW)
    assert data["username"] == "admin" and data["csrf_token"]
    assert client.get("/index.json").status_code == 200
    # a wrong login afterwards does not end (or switch) the session
    res = client.post("/login", json={"username": "admin", "password": "nope"},
                      headers={"X-CSRFToken": data["csrf_token"]})
    assert res.status_code == 401
    assert client.get("/account.json").get_json()["username"] == "admin"


def test_csrf_on_cookie_requests_and_bearer_is_exempt(papp):
    admin = papp.test_client()
    headers = csrf(admin)
    res = admin.post("/test/jobs.json", data={"steps": 1}, headers=JSON)
    assert res.status_code == 403 and "CSRF token is missing" in res.get_json()["error"]["message"]
    res = admin.post("/test/jobs.json", data={"steps": 1, "csrf_token": "forged"}, headers=JSON)
    assert res.status_code == 403 and "invalid" in res.get_json()["error"]["message"]
    res = admin.post("/test/jobs.json", data={"steps": 1},
                     headers={**JSON, "X-CSRFToken": headers["X-CSRFToken"][:-2] + "xx"})
    assert res.status_code == 403
    assert admin.post("/test/jobs.json", data={"steps": 1}, headers=headers).status_code == 200
    # another session's token is no good here
    other = papp.test_client()
    res = other.post("/test/jobs.json", data={"steps": 1}, headers=headers)
    assert res.status_code == 401
    token = admin.post("/api/tokens", json={"name": "script"}, headers=headers).get_json()["token"]
    assert other.post("/test/jobs.json", data={"steps": 1}, headers=bearer(token)).status_code == 200
    # a Bearer request from another site's page is refused too, as the README says
    for cross in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        res = other.post("/test/jobs.json", data={"steps": 1}, headers={**bearer(token), **cross})
        assert res.status_code == 403 and "Cross-site request refused" in res.get_json()["error"]["message"]
    # a form with the hidden field works like the header
    page = admin.get("/account")
    field = re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()
    res = admin.post("/test/jobs.json", data={"steps": 1, "csrf_token": field}, headers=JSON)
    assert res.status_code == 200


def test_tokens_created_listed_used_revoked_and_expired(papp):
    admin = papp.test_client()
    headers = csrf(admin)
    res = admin.post("/api/tokens", json={"name": "ci"}, headers=headers)
    assert res.status_code == 201
    made = res.get_json()
    assert set(made) >= {"id", "token", "name"} and made["token"].startswith("dxt_")
    listed = admin.get("/api/tokens").get_json()["tokens"]
    assert [t["id"] for t in listed] == [made["id"]] and "token" not in listed[0]
    assert listed[0]["last_used"] is None
    script = papp.test_client()
    assert script.get("/index.json", headers=bearer(made["token"])).status_code == 200
    assert admin.get("/api/tokens").get_json()["tokens"][0]["last_used"] is not None
    # HTTP Basic gets a token without cookies; elsewhere it is refused
    basic = {"Authorization": "Basic " + base64.b64encode(f"admin:{ADMIN_PW}".encode()).decode()}
    res = script.post("/api/tokens", json={"name": "basic"}, headers=basic)
    assert res.status_code == 201 and cookie(res) is None
    res = script.get("/index.json", headers=basic)
    assert res.status_code == 401 and "/api/tokens" in res.get_json()["error"]["message"]
    wrong = {"Authorization": "Basic " + base64.b64encode(b"admin:wrong").decode()}
    assert script.post("/api/tokens", json={}, headers=wrong).status_code == 401
    for header in ("Bearer", "Bearer dxt_nope", "Token abc", "Basic !!!", "Basic " +
                   base64.b64encode(b"no-colon").decode(), "Bearer " + "x" * 5000):
        res = script.get("/index.json", headers={"Authorization": header, **JSON})
        assert res.status_code == 401, header
        assert res.get_json()["error"]["type"] == "Unauthorized"
    # revoked
    res = admin.delete(f"/api/tokens/{made['id']}", headers=headers)
    assert res.status_code == 200
    res = script.get("/index.json", headers=bearer(made["token"]))
    assert res.status_code == 401 and "revoked" in res.get_json()["error"]["message"]
    assert admin.delete(f"/api/tokens/{made['id']}", headers=headers).status_code == 404
    # expired
    short = admin.post("/api/tokens", json={"name": "short", "expires_days": 1},
                       headers=headers).get_json()
    assert script.get("/index.json", headers=bearer(short["token"])).status_code == 200
    from digitsx.db import ApiToken
    from digitsx.extensions import db

    with db.session() as s:
        s.get(ApiToken, short["id"]).expires = time.time() - 1
    assert script.get("/index.json", headers=bearer(short["token"])).status_code == 401
    assert admin.get("/api/tokens").get_json()["tokens"][-1]["expired"] is True
    res = admin.post("/api/tokens", json={"name": "x", "expires_days": "soon"}, headers=headers)
    assert res.status_code == 400 and "expires_days" in res.get_json()["errors"]


def test_users_are_made_by_admins_only(papp):
    bob, bob_headers, bob_token = make_user(papp, "bob")
    res = bob.post("/api/users", json={"username": "eve", "password": "eve-password"},
                   headers=bob_headers)
    assert res.status_code == 403
    assert bob.get("/admin/users", headers={"Accept": "text/html"}).status_code == 403
    admin = papp.test_client()
    headers = csrf(admin)
    for body, field in (({"username": "Eve", "password": "eve-password"}, "username"),
                        ({"username": "eve", "password": "short"}, "password"),
                        ({"username": 7, "password": "eve-password"}, "username")):
        res = admin.post("/api/users", json=body, headers=headers)
        assert res.status_code == 400 and field in res.get_json()["errors"], body
    res = admin.post("/api/users", json={"username": "bob", "password": "bob-password"},
                     headers=headers)
    assert res.status_code == 409
    users = {u["username"]: u for u in admin.get("/api/users").get_json()["users"]}
    assert users["admin"]["is_admin"] and not users["bob"]["is_admin"]
    # the last admin cannot be demoted or disabled
    res = admin.patch("/api/users/admin", json={"is_admin": False}, headers=headers)
    assert res.status_code == 409 and "admin must remain" in res.get_json()["error"]["message"]
    res = admin.patch("/api/users/bob", json={"active": "maybe"}, headers=headers)
    assert res.status_code == 400


def test_disabling_a_user_ends_its_sessions_and_tokens(papp):
    bob, bob_headers, bob_token = make_user(papp, "bob")
    assert bob.get("/index.json").status_code == 200
    admin = papp.test_client()
    headers = csrf(admin)
    assert admin.patch("/api/users/bob", json={"active": False}, headers=headers).status_code == 200
    assert bob.get("/index.json", headers=JSON).status_code == 401
    assert papp.test_client().get("/index.json", headers=bearer(bob_token)).status_code == 401
    plogin(papp.test_client(), "bob", "bob-password", 401)


def test_changing_a_password_ends_the_other_sessions(papp):
    bob, bob_headers, _ = make_user(papp, "bob")
    laptop = papp.test_client()
    csrf(laptop, "bob", "bob-password")
    res = bob.post("/account/password", json={"current_password": "wrong",
                                              "new_password": "new-password-1"}, headers=bob_headers)
    assert res.status_code == 401
    res = bob.post("/account/password", json={"current_password": "bob-password",
                                              "new_password": "new-password-1"}, headers=bob_headers)
    assert res.status_code == 200
    assert bob.get("/index.json").status_code == 200  # this session goes on
    assert laptop.get("/index.json", headers=JSON).status_code == 401  # the other one ended
    plogin(papp.test_client(), "bob", "bob-password", 401)
    plogin(papp.test_client(), "bob", "new-password-1")


def test_owner_or_admin_may_change_a_job(papp):
    bob, bob_headers, _ = make_user(papp, "bob")
    eve, eve_headers, _ = make_user(papp, "eve")
    job = bob.post("/test/jobs.json", data={"steps": 1000, "delay": 0.05},
                   headers=bob_headers).get_json()
    for method, url in (("post", f"/jobs/{job['id']}/abort"), ("delete", f"/jobs/{job['id']}"),
                        ("put", f"/jobs/{job['id']}")):
        res = getattr(eve, method)(url, data={"job_name": "x", "username": "bob"}, headers=eve_headers)
        assert res.status_code == 403, url
    admin = papp.test_client()
    headers = csrf(admin)
    res = admin.put(f"/jobs/{job['id']}", data={"job_name": "renamed by admin"}, headers=headers)
    assert res.status_code == 200 and res.get_json()["username"] == "bob"
    res = admin.delete(f"/jobs/{job['id']}", headers=headers)
    assert res.status_code == 200


def test_running_submitted_code_needs_can_run_code(papp, tmp_path):
    bob, headers, token = make_user(papp, "bob")
    source = "import os\nos.system('touch /tmp/digitsx-pwned')\ndef build(a, b, c):\n    return None\n"
    attempts = [
        ("/models/images/classification/visualize-network",
         {"method": "custom", "custom_network": source}),
        ("/models/images/classification.json",
         {"model_name": "m", "dataset": "x", "method": "custom", "custom_network": source}),
    ]
    for auth in (headers, bearer(token)):
        for url, data in attempts:
            res = bob.post(url, data=data, headers=auth)
            assert res.status_code == 403, url
            assert "may not run code" in res.get_json()["error"]["message"]
        res = bob.post("/pretrained_models/upload_archive",
                       data={"archive": (tmp_path.joinpath("a.tar.gz").open("wb+"), "a.tar.gz")},
                       headers=auth)
        assert res.status_code == 403
        files = {name: (tmp_path.joinpath(name).open("wb+"), name)
                 for name in ("weights_file", "model_def_file", "labels_file")}
        res = bob.post("/pretrained_models/new", data=files, headers=auth)
        assert res.status_code == 403
    # a standard network's preview needs no permission beyond a login
    res = bob.post("/models/images/classification/visualize-network", headers=headers,
                   data={"method": "standard", "standard_networks": "lenet", "channels": 1,
                         "size": 28})
    assert res.status_code == 200 and res.get_json()["layers"]
    # granted, the same request gets past the permission (the source fails on its own terms)
    admin = papp.test_client()
    assert admin.patch("/api/users/bob", json={"can_run_code": True},
                       headers=csrf(admin)).status_code == 200
    res = bob.post("/models/images/classification.json", headers=headers, data=attempts[1][1])
    assert res.status_code == 400 and "dataset" in res.get_json()["errors"]
    assert not os.path.exists("/tmp/digitsx-pwned")


def test_failed_logins_are_throttled_per_user_and_address(make_app):
    app = make_app(AUTH="password", ADMIN_PASSWORD=ADMIN_PW, LOGIN_LIMIT_USER="3 per minute",
                   LOGIN_LIMIT_ADDRESS="5 per minute")
    client = app.test_client()
    for _ in range(3):
        plogin(client, "admin", "wrong", 401)
    res = client.post("/login", json={"username": "admin", "password": ADMIN_PW})
    assert res.status_code == 429 and int(res.headers["Retry-After"]) > 0
    assert "Too many failed logins" in res.get_json()["error"]["message"]
    # another address is not locked out by the first one's failures
    other = app.test_client()
    res = other.post("/login", json={"username": "admin", "password": ADMIN_PW},
                     environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert res.status_code == 200
    # per address: failures against any names add up
    for name in ("a", "b"):
        plogin(client, name, "wrong", 401)
    res = client.post("/login", json={"username": "c", "password": "x"})
    assert res.status_code == 429


def test_process_routes_are_rate_limited_per_user(make_app):
    app = make_app(PROCESS_LIMIT="2 per minute")
    client = app.test_client()
    login(client, "alice")
    data = {"method": "standard", "standard_networks": "lenet", "channels": 1, "size": 28}
    for _ in range(2):
        assert client.post("/models/images/classification/visualize-network", data=data,
                           headers=JSON).status_code == 200
    res = client.post("/models/images/classification/visualize-network", data=data, headers=JSON)
    assert res.status_code == 429 and res.headers["Retry-After"]
    other = app.test_client()
    login(other, "bob")
    assert other.post("/models/images/classification/visualize-network", data=data,
                      headers=JSON).status_code == 200
    res = other.post("/models/images/classification/visualize-network",
                     data={**data, "channels": "three"}, headers=JSON)
    assert res.status_code == 400 and "channels" in res.get_json()["errors"]


def test_first_start_makes_an_admin_with_a_random_password(make_app, tmp_path, capsys):
    app = make_app(AUTH="password", JOBS_DIR=str(tmp_path / "fresh"))
    out = capsys.readouterr().out
    path = tmp_path / "fresh" / "initial_admin_password"
    password = path.read_text().strip()
    assert password in out and len(password) >= 16
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    client = app.test_client()
    plogin(client, "admin", password)
    assert client.get("/files/initial_admin_password").status_code == 404
    assert client.get("/files/.secret_key").status_code == 404
    # a second start keeps the admin and prints nothing
    make_app(AUTH="password", JOBS_DIR=str(tmp_path / "fresh"),
             DATABASE_URL=app.config["DATABASE_URL"])
    assert password not in capsys.readouterr().out
    # once the admin picks a password, the file of the first one goes
    client = app.test_client()
    token = plogin(client, "admin", password)["csrf_token"]
    res = client.post("/account/password", json={"current_password": password,
                                                  "new_password": "chosen-by-admin"},
                      headers={"X-CSRFToken": token})
    assert res.status_code == 200 and not path.exists()


def test_users_cli(papp, tmp_path, monkeypatch, capsys):
    from digitsx.cli import main

    jobs = ["--jobs-dir", papp.config["JOBS_DIR"]]
    monkeypatch.setenv("DIGITSX_DATABASE_URL", papp.config["DATABASE_URL"])
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("carol-password\n"))
    assert main(jobs + ["users", "create", "carol", "--password-stdin"]) == 0
    assert main(jobs + ["users", "grant-code", "carol"]) == 0
    assert main(jobs + ["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert re.search(r"carol\s+-\s+yes\s+yes\s+set", listing), listing
    assert main(jobs + ["users", "token", "carol"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    client = papp.test_client()
    assert client.get("/account.json", headers=bearer(token)).get_json()["can_run_code"] is True
    assert main(jobs + ["users", "disable", "carol"]) == 0
    assert client.get("/account.json", headers=bearer(token)).status_code == 401
    assert main(jobs + ["users", "passwd", "nobody", "--password-stdin"]) == 1
    assert "No such user" in capsys.readouterr().err


def test_old_users_table_gets_the_new_columns(tmp_path):
    from sqlalchemy import create_engine, text

    from digitsx.db import Database

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE users (username VARCHAR(64) PRIMARY KEY, created FLOAT, "
                          "last_login FLOAT)"))
        conn.execute(text("INSERT INTO users VALUES ('alice', 1, 2)"))
    db = Database()
    db.init(url)
    from digitsx.auth.accounts import Accounts

    alice = Accounts(db).get("alice")
    assert alice.active and not alice.is_admin and not alice.has_password


def test_socketio_needs_a_login_in_password_mode(papp):
    from digitsx.extensions import socketio

    anon = socketio.test_client(papp, namespace="/jobs", flask_test_client=papp.test_client())
    assert not anon.is_connected("/jobs")
    admin = papp.test_client()
    csrf(admin)
    sio = socketio.test_client(papp, namespace="/jobs", flask_test_client=admin)
    assert sio.is_connected("/jobs")
    sio.emit("join", {"room": "no-such-job"}, namespace="/jobs")
    sio.emit("join", {"room": "job_management"}, namespace="/jobs")
    received = {e["name"]: e["args"][0] for e in sio.get_received("/jobs")}
    assert received["join refused"]["room"] == "no-such-job"
    assert received["joined"]["room"] == "job_management"
    token = admin.post("/api/tokens", json={"name": "socket"},
                       headers={"X-CSRFToken": admin.get("/login.json").get_json()["csrf_token"]}
                       ).get_json()["token"]
    with_token = socketio.test_client(papp, namespace="/jobs", auth={"token": token})
    assert with_token.is_connected("/jobs")
    bad = socketio.test_client(papp, namespace="/jobs", auth={"token": "dxt_forged"})
    assert not bad.is_connected("/jobs")
    wait_for(lambda: True, 0.1)


def test_simultaneous_first_logins_of_one_name_in_open_mode(app):
    """Two tabs logging in as a new name at once: both succeed (the second insert of the name
    used to fail its unique key: a 500)."""
    import threading

    barrier = threading.Barrier(6)
    answers = []

    def go():
        client = app.test_client()
        barrier.wait()
        answers.append(client.post("/login", data={"username": "newcomer"}, headers=JSON).status_code)

    threads = [threading.Thread(target=go) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert answers == [200] * 6
