"""REST routes in DIGITS's shapes, ownership, errors, bulk actions, OpenAPI (test client)."""
from __future__ import annotations

from tests.conftest import login, run_job, wait_for, wait_job

JSON = {"Accept": "application/json"}


def create(client, **fields):
    res = client.post("/test/jobs.json", data={"steps": 3, "delay": 0.01, **fields})
    assert res.status_code == 200, res.data
    return res.get_json()


def test_create_requires_login(client):
    res = client.post("/test/jobs.json", data={"steps": 1})
    assert res.status_code == 401
    assert res.get_json()["error"]["type"] == "Unauthorized"


def test_username_field_works_for_scripts(client):
    res = client.post("/test/jobs.json", data={"steps": 1, "username": "script-user"})
    assert res.status_code == 200 and res.get_json()["username"] == "script-user"


def test_bad_username_is_a_field_error(client):
    res = client.post("/login", data={"username": "Bob Smith"}, headers=JSON)
    assert res.status_code == 400
    assert "lowercase letter" in res.get_json()["errors"]["username"][0]


def test_job_id_format_and_folder(app, client):
    login(client)
    job = create(client)
    import re
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{4}", job["id"])
    folder = app.extensions["digitsx"].store.job_dir(job["id"])
    assert (folder / "spec.json").is_file()


def test_index_and_completed_jobs_shapes(app, client):
    login(client)
    done = run_job(app, client, name="ds", steps=1)
    model = run_job(app, client, kind="test.train", name="net", steps=1)
    index = client.get("/index.json").get_json()
    assert {"version", "jobs_dir", "datasets", "models"} <= set(index)
    assert index["datasets"] == [{"id": done["id"], "name": "ds", "status": "Done"}]
    assert index["models"][0]["id"] == model["id"]
    completed = client.get("/completed_jobs.json").get_json()
    j = completed["datasets"][0]
    for key in ("id", "name", "group", "status", "submitted", "elapsed", "progress", "type",
                "username"):
        assert key in j
    assert j["username"] == "alice" and completed["running"] == []
    assert client.get(f"/jobs/{done['id']}/table_data.json").get_json()["job"]["id"] == done["id"]


def test_same_job_under_datasets_and_models_prefixes(app, client):
    login(client)
    job = run_job(app, client, steps=1)
    for prefix in ("/jobs", "/datasets", "/models"):
        assert client.get(f"{prefix}/{job['id']}.json").get_json()["id"] == job["id"]
        assert client.get(f"{prefix}/{job['id']}/status").get_json()["status"] == "Done"
    page = client.get(f"/datasets/{job['id']}")
    assert page.status_code == 200 and b"Status timeline" in page.data
    by_accept = client.get(f"/jobs/{job['id']}", headers=JSON)
    assert by_accept.is_json and by_accept.get_json()["id"] == job["id"]


def test_unknown_ids_are_404(client):
    res = client.get("/jobs/20200101-000000-dead/status")
    assert res.status_code == 404 and res.get_json()["error"]["type"] == "NotFound"
    res = client.get("/jobs/20200101-000000-dead.json")
    assert res.status_code == 404 and res.get_json()["error"]["type"] == "NotFound"
    assert client.post("/jobs/nope/abort", headers=JSON).status_code == 404
    assert client.get("/no/such/page.json").get_json()["error"]["type"] == "NotFound"


def test_edit_name_notes_only_by_owner(app, client):
    login(client)
    job = create(client)
    res = client.put(f"/jobs/{job['id']}", json={"job_name": "renamed", "job_notes": "hello"},
                     headers=JSON)
    assert res.status_code == 200 and res.get_json()["name"] == "renamed"
    assert res.get_json()["notes"] == "hello"
    other = app.test_client()
    login(other, "bob")
    res = other.put(f"/jobs/{job['id']}", data={"job_name": "stolen"}, headers=JSON)
    assert res.status_code == 403 and "Only alice may edit" in res.get_json()["error"]["message"]
    anon = app.test_client()
    assert anon.put(f"/jobs/{job['id']}", data={"job_name": "x"}, headers=JSON).status_code == 401
    assert client.put(f"/jobs/{job['id']}", data={"job_name": " "}, headers=JSON).status_code == 400


def test_abort_and_delete_only_by_owner(app, client):
    login(client)
    job = create(client, steps=1000, delay=0.05)
    other = app.test_client()
    login(other, "bob")
    assert other.post(f"/jobs/{job['id']}/abort", headers=JSON).status_code == 403
    assert other.delete(f"/jobs/{job['id']}", headers=JSON).status_code == 403
    res = client.post(f"/jobs/{job['id']}/abort", headers=JSON)
    assert res.status_code == 200 and res.get_json()["status"] == "Job aborted."
    assert client.get(f"/jobs/{job['id']}/status").get_json()["status"] == "Aborted"
    res = client.post(f"/jobs/{job['id']}/abort", headers=JSON)
    assert res.status_code == 409 and "not running" in res.get_json()["error"]["message"]


def test_delete_running_job_stops_it_and_removes_folder(app, client):
    login(client)
    job = create(client, steps=1000, delay=0.05)
    platform = app.extensions["digitsx"]
    platform.scheduler.tick()
    assert job["id"] in platform.runner.handles
    res = client.delete(f"/jobs/{job['id']}", headers=JSON)
    assert res.status_code == 200 and res.get_json()["status"] == "Job deleted."
    assert not platform.store.job_dir(job["id"]).exists()
    assert client.get(f"/jobs/{job['id']}/status").status_code == 404
    wait_for(lambda: platform.pool.holders == {}, 5, what="the reservation to be released")


def test_delete_dataset_used_by_a_model_is_refused(app, client):
    login(client)
    dataset = run_job(app, client, name="flowers", steps=1)
    model = create(client, kind="test.train", name="resnet", parent=dataset["id"], steps=1)
    res = client.delete(f"/datasets/{dataset['id']}", headers=JSON)
    assert res.status_code == 403
    message = res.get_json()["error"]["message"]
    assert "resnet" in message and model["id"] in message
    assert app.extensions["digitsx"].store.job_dir(dataset["id"]).exists()
    wait_job(app, model["id"])
    assert client.delete(f"/models/{model['id']}", headers=JSON).status_code == 200
    assert client.delete(f"/datasets/{dataset['id']}", headers=JSON).status_code == 200


def test_bulk_delete_abort_group(app, client):
    login(client)
    a, b = run_job(app, client, name="a", steps=1), run_job(app, client, name="b", steps=1)
    res = client.post("/group", data={"job_ids[]": [a["id"], b["id"]], "group_name": "exp1"})
    assert res.get_json()["grouped"] == [a["id"], b["id"]]
    assert client.get(f"/jobs/{a['id']}.json").get_json()["group"] == "exp1"
    client.post("/group", json={"job_ids": [a["id"]], "group_name": ""})
    assert client.get(f"/jobs/{a['id']}.json").get_json()["group"] == ""
    running = create(client, steps=1000, delay=0.05)
    res = client.post("/abort_jobs", data={"job_ids[]": [running["id"], a["id"]]})
    body = res.get_json()
    assert body["aborted"] == [running["id"]] and "not running" in body["errors"][a["id"]]
    wait_job(app, running["id"])
    res = client.delete("/jobs", data={"job_ids[]": [a["id"], b["id"], "nope"]})
    assert sorted(res.get_json()["deleted"]) == sorted([a["id"], b["id"]])
    assert "nope" in res.get_json()["errors"]
    assert client.delete("/jobs", data={}).status_code == 400


def test_clone_redirects_to_the_kinds_form(app, client):
    login(client)
    model = create(client, kind="test.train")
    res = client.get(f"/clone/{model['id']}")
    assert res.status_code == 302 and res.headers["Location"].endswith(f"/test/new?clone={model['id']}")
    dataset = create(client)
    res = client.get(f"/clone/{dataset['id']}", headers=JSON)
    assert res.status_code == 400 and "cannot be cloned" in res.get_json()["error"]["message"]


def test_waiting_job_shows_its_place_in_the_gpu_queue(make_app):
    app = make_app(FAKE_GPUS=1)
    client = app.test_client()
    login(client)
    first = create(client, kind="test.train", steps=1000, delay=0.05)
    second = create(client, kind="test.train", steps=1, gpu_ids="0")
    app.extensions["digitsx"].scheduler.tick()
    job = client.get(f"/jobs/{second['id']}.json").get_json()
    assert job["status"] == "Waiting"
    assert job["waiting"]["reason"] == "Waiting for GPU 0" and job["waiting"]["position"] == 1
    gpus = client.get("/gpus.json").get_json()
    assert gpus["gpus_total"] == 1 and gpus["gpus_available"] == 0
    assert gpus["panel"] == [{"index": 0, "job_id": first["id"], "queue": [second["id"]]}]
    client.post(f"/jobs/{first['id']}/abort")
    assert wait_job(app, second["id"])["status"] == "Done"


def test_dependent_job_fails_when_parent_fails(app, client):
    login(client)
    parent = create(client, steps=5, fail=1, name="broken")
    child = create(client, kind="test.train", parent=parent["id"])
    job = wait_job(app, child["id"])
    assert job["status"] == "Error" and "Parent job broken" in job["error"]


def test_upload_too_large_is_413(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1000)
    client = app.test_client()
    login(client)
    res = client.post("/test/jobs.json", data={"name": "x" * 5000}, headers=JSON)
    assert res.status_code == 413 and res.get_json()["error"]["type"] == "PayloadTooLarge"


def test_files_stay_inside_the_jobs_folder(app, client):
    login(client)
    job = run_job(app, client, steps=1)
    assert client.get(f"/files/{job['id']}/spec.json").status_code == 200
    for path in ("../../etc/passwd", "digitsx.db", ".secret_key", "%2e%2e/%2e%2e/etc/passwd", "a%00b",
                 f"{job['id']}/spec.json%00.png"):
        assert client.get(f"/files/{path}", headers=JSON).status_code == 404, path


def test_odd_inputs_are_400_not_500(app, client):
    login(client)
    job = run_job(app, client, steps=1)
    for prefix in ("/jobs", "/datasets", "/models"):
        for lines in ("", "abc", "1e9"):
            res = client.get(f"{prefix}/{job['id']}/log.json?lines={lines}")
            assert res.status_code == 400 and "lines" in res.get_json()["error"]["message"]
    assert client.get(f"/jobs/{job['id']}/log.json?lines=5").status_code == 200
    for fields, field in (({"job_name": "x" * 1_000_000}, "job_name"),
                          ({"job_name": "a\x00b"}, "job_name"),
                          ({"group_name": "g\nh"}, "group_name")):
        res = client.put(f"/jobs/{job['id']}", json=fields, headers=JSON)
        assert res.status_code == 400 and field in res.get_json()["errors"], fields
    res = client.post("/datasets/images/classification.json", data={
        "dataset_name": "d\x00", "folder_train": "/tmp/a\x00b"})
    assert res.status_code == 400
    assert {"dataset_name", "folder_train"} <= set(res.get_json()["errors"])
    res = client.post("/models/images/classification/classify_one.json",
                      data={"job_id": job["id"], "image_path": "/tmp/\x00"})
    assert res.status_code in (400, 404)


def test_errors_speak_json_to_scripts(app, client):
    login(client)
    res = client.get("/jobs/nope/abort", headers={"Accept": "*/*"})  # abort is POST only
    assert res.status_code == 405 and res.is_json and "POST" in res.headers["Allow"]
    res = client.post("/jobs/nope/abort", headers={"Accept": "*/*"})
    assert res.status_code == 404 and res.is_json
    page = client.get("/jobs/nope", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 404 and b"<html" in page.data  # a browser still gets a page
    res = client.post("/test/jobs.json", data='{"steps": 1,', content_type="application/json")
    assert res.status_code == 400 and "not valid JSON" in res.get_json()["error"]["message"]
    res = client.put(f"/jobs/{create(client)['id']}", data="{nope", content_type="application/json")
    assert res.status_code == 400
    for body in ("null", "5", "[1, 2]", '"steps"'):  # JSON, but not an object of fields
        res = client.post("/test/jobs.json", data=body, content_type="application/json")
        assert res.status_code == 400 and "JSON object" in res.get_json()["error"]["message"], body


def test_what_schemathesis_found_is_400(app, client):
    """Each of these was a 500 (or a silent 200) found by the fuzzer against the document."""
    login(client)
    res = client.post("/datasets/images/classification.json",
                      json={"dataset_name": "d", "resize_channels": "__not_in_enum__"})
    assert res.status_code == 400 and "resize_channels" in res.get_json()["errors"]
    res = client.post("/datasets/images/resize-example", data={"channels": "two"})
    assert res.status_code == 400 and "channels" in res.get_json()["errors"]
    for field, value in (("lr_sigmoid_gamma", 8), ("lr_step_gamma", 2), ("lr_onecycle_div", 0),
                         ("lr_multistep_values", "50,abc"), ("lr_inv_gamma", -1)):
        res = client.post("/models/visualize-lr", json={"lr_policy": "sigmoid", field: value})
        assert res.status_code == 400 and field in res.get_json()["errors"], field
    res = client.post("/models/images/classification.json",
                      json={"model_name": "m", "learning_rate": {"a": 1}, "batch_size": [1]})
    errors = res.get_json()["errors"]
    assert res.status_code == 400 and {"learning_rate", "batch_size"} <= set(errors)
    assert "single value" in errors["learning_rate"][0]


def test_the_document_shows_the_fields_a_route_checks(client):
    """The request schema is the form the route validates with: same names, bounds, choices."""
    from digitsx.classification.forms import DATASET_FORM as FORM

    doc = client.get("/api/openapi.json").get_json()
    body = doc["paths"]["/datasets/images/classification.json"]["post"]["requestBody"]["content"]
    schema = body["application/json"]["schema"]
    assert set(schema["properties"]) == {k for k, f in FORM.fields.items() if f.type != "file"}
    assert schema["required"] == ["dataset_name"]
    width = schema["properties"]["resize_width"]["anyOf"][0]
    assert (width["minimum"], width["maximum"]) == (1, 4096)
    assert "folder_train_archive" in body["multipart/form-data"]["schema"]["properties"]
    model = doc["paths"]["/models/images/classification.json"]["post"]["requestBody"]["content"]
    networks = model["application/json"]["schema"]["properties"]["standard_networks"]["anyOf"][0]
    assert "resnet18" in networks["enum"]
    assert "/datasets/images/classification/new" not in doc["paths"]  # a page, not the API


def test_openapi_lists_every_json_route(app, client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path, method in [("/index.json", "get"), ("/completed_jobs.json", "get"),
                         ("/jobs/{job_id}.json", "get"), ("/jobs/{job_id}/status", "get"),
                         ("/jobs/{job_id}/abort", "post"), ("/jobs/{job_id}", "delete"),
                         ("/jobs", "delete"), ("/abort_jobs", "post"), ("/group", "post"),
                         ("/login", "post"), ("/datasets/{job_id}.json", "get"),
                         ("/test/jobs.json", "post")]:
        assert method in paths[path], (path, method)
    rules = {r.rule for r in app.url_map.iter_rules() if r.rule.endswith(".json")}
    documented = {p.replace("{job_id}", "<job_id>") for p in paths}
    assert rules <= documented


def test_home_page_renders_jobs(app, client):
    login(client)
    run_job(app, client, name="visible-job", steps=1)
    page = client.get("/").data.decode()
    assert "home.js" in page and "socket.io.min.js" in page and 'id="getting-started" hidden' in page
    # the page asks for its tab's rows a page at a time
    rows = client.get("/index.json?category=dataset&tabs=1", headers={"Accept": "application/json"}).get_json()
    assert [j["name"] for j in rows["jobs"]] == ["visible-job"] and rows["tabs"]["dataset"] == 1
    assert client.get("/static/vendor/socket.io.min.js").status_code == 200


def test_the_document_shows_what_routes_answer_and_typed_path_parameters(client):
    """Response schemas (checked against real answers by tests/test_api_fuzz.py) and path
    parameters with their converters' types: ``any(a, b)`` an enum, ``int`` an integer."""
    doc = client.get("/api/openapi.json").get_json()
    paths, schemas = doc["paths"], doc["components"]["schemas"]
    ok = lambda path, method, status="200": paths[path][method]["responses"][status]["content"]["application/json"]["schema"]
    assert ok("/jobs/{job_id}.json", "get") == {"$ref": "#/components/schemas/JobDetails"}
    assert ok("/models/images/generic/infer_many.json", "post", "202") == {"$ref": "#/components/schemas/Accepted"}
    assert ok("/models/images/generic/infer_many.json", "post") == {"$ref": "#/components/schemas/Outputs"}
    assert ok("/index.json", "get") == {"anyOf": [{"$ref": "#/components/schemas/Index"},
                                                  {"$ref": "#/components/schemas/JobPage"}]}
    assert {p["name"] for p in paths["/index.json"]["get"]["parameters"]} >= {"page", "per_page", "sort", "q", "tag"}
    assert {"Job", "JobDetails", "Predictions", "Detections", "ClassMap", "Accepted", "Error"} <= set(schemas)
    assert schemas["Job"]["properties"]["status"]["enum"][:1] and "Done" in schemas["Job"]["properties"]["status"]["enum"]
    seg = next(p for p in paths if p.startswith("/datasets/{job_id}/segmentation/") and p.endswith(".png"))
    assert "<" not in seg and "{split}" in seg and "{part}" in seg, seg
    params = {p["name"]: p["schema"] for p in paths[seg]["get"]["parameters"]}
    assert params["split"] == {"type": "string", "enum": ["train", "val"]}
    assert params["part"] == {"type": "string", "enum": ["image", "label"]}
    assert params["index"] == {"type": "integer"}
