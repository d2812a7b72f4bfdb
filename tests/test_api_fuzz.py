"""Schemathesis against the served OpenAPI document: every operation, generated requests as an
admin with a token (password mode), with a real job id for ``{job_id}``. A bounded run: a few
examples per operation. Requests that follow the document (positive) and requests that break it
(negative): no 5xx, every status code, content type and JSON body as documented, and a JSON body
that breaks a declared form is refused with a 4xx."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (content_type_conformance, negative_data_rejection,
                                 not_a_server_error, response_schema_conformance,
                                 status_code_conformance)
from schemathesis.generation import GenerationMode

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
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    job = run_job(app, client, headers=headers, steps=1)
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app, headers=headers)
    return schema, headers, job["id"]


CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance,
               response_schema_conformance]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented(fuzz, mode):
    schema, headers, job_id = fuzz
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 60
    with_forms = [op for op in operations if "title" in op.definition.raw.get("requestBody", {}).get(
        "content", {}).get("application/json", {}).get("schema", {})]
    assert len(with_forms) >= 5  # the declared forms are in the document

    for operation in operations:
        form = operation in with_forms and mode == GenerationMode.NEGATIVE

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=30 if operation in with_forms else 8, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            if "job_id" in (case.path_parameters or {}):
                case.path_parameters["job_id"] = job_id
            # Only a JSON body is refused as a whole: any form body is a set of named fields.
            json_form = form and case.media_type == "application/json"
            checks = CONFORMANCE + ([negative_data_rejection] if json_form else [])
            case.call_and_validate(headers=headers, checks=checks)

        check()
