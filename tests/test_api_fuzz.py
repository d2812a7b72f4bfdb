"""Schemathesis against the served OpenAPI document: every operation, generated requests as an
admin with a token (password mode), with a real job id for ``{job_id}``. A bounded run: a few
examples per operation. Any 5xx fails."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.conftest import run_job

ADMIN = "fuzz-admin-password"
UNLIMITED = "100000 per minute"


@pytest.fixture
def fuzz(make_app):
    """(schema, token, job id) on a fresh password-mode app; process-starting routes are held
    to a few calls a minute, so the fuzzer meets the 429 instead of starting hundreds."""
    app = make_app(AUTH="password", ADMIN_PASSWORD=ADMIN, LOGIN_LIMIT_USER=UNLIMITED,
                   LOGIN_LIMIT_ADDRESS=UNLIMITED, JOB_LIMIT=UNLIMITED, PROCESS_LIMIT="2 per minute")
    client = app.test_client()
    res = client.post("/login", json={"username": "admin", "password": ADMIN})
    token = client.post("/api/tokens", json={"name": "fuzz"},
                        headers={"X-CSRFToken": res.get_json()["csrf_token"]}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    job = run_job(app, client, headers={**headers, "Accept": "application/json"}, steps=1)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, headers=headers)
    return schema, headers, job["id"]


def test_no_operation_answers_a_server_error(fuzz):
    schema, headers, job_id = fuzz
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 60

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=10, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            if "job_id" in (case.path_parameters or {}):
                case.path_parameters["job_id"] = job_id
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        check()
