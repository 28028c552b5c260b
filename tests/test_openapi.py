"""The OpenAPI document: every route is in it, and the app keeps to it (schemathesis, in process)."""

from __future__ import annotations

import re

import pytest
import schemathesis
from conftest import tiny_image
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_headers_conformance
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from geo.statuses import ISSUE_STATUSES
from webmap.app import create_app
from webmap.auth import ACCESS, EVERYONE
from webmap.openapi import openapi_document

STANDARD_TAGS = "^(open311|ogcapi|meta)$"
REST_TAGS = "^rest$"
PNG = tiny_image("PNG")


@pytest.fixture(scope="module")
def app(sample_copy):
    return create_app(sample_copy)


def test_every_rule_and_method_of_the_url_map_is_documented(app):
    document = app.test_client().get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 20
    for rule in rules:
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        assert path in document["paths"], rule.rule
        for method in set(rule.methods) - {"HEAD", "OPTIONS"}:
            assert method.lower() in document["paths"][path], (rule.rule, method)


def test_a_route_added_later_appears_in_the_document(app):
    from flask import Flask

    extra = Flask(__name__)

    @extra.route("/things/<int:thing_id>", methods=["GET", "DELETE"])
    def thing(thing_id):
        """One thing."""
        return ""

    paths = openapi_document(extra)["paths"]
    assert set(paths["/things/{thing_id}"]) == {"get", "delete"}
    parameter = paths["/things/{thing_id}"]["get"]["parameters"][0]
    assert parameter == {"name": "thing_id", "in": "path", "required": True,
                         "schema": {"type": "integer", "minimum": 0}}
    assert paths["/things/{thing_id}"]["get"]["summary"] == "One thing."


def test_api_routes_carry_parameters_and_schemas(app):
    document = app.test_client().get("/openapi.json").get_json()
    items = document["paths"]["/ogcapi/collections/{cid}/items"]["get"]
    names = {p["$ref"].rsplit(".", 1)[-1] for p in items["parameters"] if "$ref" in p}
    assert names == {"f", "bbox", "limit", "offset", "datetime"}
    cid = next(p for p in items["parameters"] if p.get("name") == "cid")
    assert "issues" in cid["schema"]["enum"] and "unit_cells" in cid["schema"]["enum"]
    limit = document["components"]["parameters"]["ogcapi.limit"]["schema"]
    assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 10000, 10)
    post = document["paths"]["/open311/v2/requests.{fmt}"]["post"]
    assert post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["$ref"].endswith(
        "Open311CreateForm")
    assert set(post["responses"]) == {"201", "400", "403", "404"}
    rest = {(path, method): op for path, ops in document["paths"].items() for method, op in ops.items()
            if op["operationId"].startswith("api.")}
    assert len(rest) == len([r for r in app.url_map.iter_rules() if r.endpoint.startswith("api.")]) == 10
    for (path, method), op in rest.items():
        endpoint = op["operationId"].rsplit(".", 1)[0]
        answers = {status: [media["schema"].get("$ref") for media in answer.get("content", {}).values()]
                   for status, answer in op["responses"].items()}
        # every REST answer has a schema: the success's own, the errors' ApiError; 401 without a login everywhere,
        # 403 exactly where a role may not use the route
        ok = [status for status in answers if status.startswith("2")]
        assert len(ok) == 1 and answers[ok[0]] and all(answers[ok[0]]), (path, method, answers)
        errors = {status: refs for status, refs in answers.items() if status not in ok}
        assert all(refs == ["#/components/schemas/ApiError"] for refs in errors.values()), (path, method, errors)
        assert "401" in errors and ("403" in errors) == (set(ACCESS[endpoint]) != set(EVERYONE)), (path, method)
        assert op["tags"] == ["rest"] and op["security"][0]["sessionCookie"] == []
        if method == "post":
            assert op["requestBody"]["content"] and op["security"] == [{"sessionCookie": [], "csrfHeader": []}]
    listed = document["paths"]["/api/issues"]["get"]["parameters"]
    assert {p["$ref"].rsplit(".", 1)[-1] for p in listed} == {"bbox", "status", "category", "department",
                                                               "community", "since", "until", "limit", "offset"}
    assert document["components"]["parameters"]["api.status"]["schema"]["items"]["enum"] == ["open", *ISSUE_STATUSES]
    layer = document["paths"]["/api/layers/{name}"]["get"]["parameters"]
    assert [p.get("$ref") for p in layer] == ["#/components/parameters/api.layer", "#/components/parameters/api.bbox"]
    assert document["paths"]["/api/issues/{issue_id}/photos"]["post"]["requestBody"]["content"][
        "multipart/form-data"]["schema"]["$ref"].endswith("ApiPhotoUpload")
    assert set(document["components"]["securitySchemes"]) >= {"sessionCookie", "csrfHeader"}
    for ref in re.findall(r'"\$ref": "#/components/(\w+)/([\w.]+)"', str(document).replace("'", '"')):
        assert ref[1] in document["components"][ref[0]], ref


def _fuzz(schema, *, checks: list, max_examples: int, **call) -> tuple[dict[str, str], list[int]]:
    """Run generated requests (sent with ``call``: ``headers``, ``cookies`` …) against every operation of ``schema``:
    (failures by operation, statuses seen)."""
    failures, statuses = {}, []
    for operation in [result.ok() for result in schema.get_all_operations()]:
        @given(case=operation.as_strategy())
        # derandomize: the same cases on every run, so that a red CI run can be replayed here
        @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  derandomize=True)
        def check(case):
            statuses.append(case.call_and_validate(checks=checks, **call).status_code)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:2000]
    return failures, statuses


STRICT_CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
                 response_headers_conformance]


def test_standard_apis_keep_to_their_openapi_document(app):
    """Generated requests to every Open311, OGC API and OpenAPI operation: no 5xx; status codes, content
    types and JSON bodies as documented. (schemathesis's pytest plugin does not run under pytest 9, so the
    operations are driven through Hypothesis here.)"""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(tag_regex=STANDARD_TAGS)
    assert len(list(schema.get_all_operations())) == 14
    failures, statuses = _fuzz(schema, max_examples=25, checks=STRICT_CHECKS)
    assert not failures, "\n\n".join(f"{label}: {text}" for label, text in failures.items())
    # the generated requests reached both the answers and the errors, issues without a key among them
    assert len(statuses) > 100 and {200, 400, 401, 403, 404} <= set(statuses), sorted(set(statuses))


def test_issue_reads_with_a_key_keep_to_the_openapi_document(app, api_keys):
    """The operations that read issues, again with a supervisor's API key, so that issues come back."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(
        method="GET", path_regex="^/(open311/v2/(requests|tokens)|ogcapi/collections/{cid}/items)")
    assert len(list(schema.get_all_operations())) == 5
    failures, statuses = _fuzz(schema, max_examples=25, checks=STRICT_CHECKS,
                               headers={"X-API-Key": api_keys["supervisor"]})
    assert not failures, "\n\n".join(f"{label}: {text}" for label, text in failures.items())
    assert 200 in statuses and 401 not in statuses, sorted(set(statuses))


def _session(app, login, name: str):
    """A test client logged in as TEST_USERS ``name``, and what a schemathesis call sends to act as it: the
    session cookie and the CSRF header."""
    client = app.test_client()
    token = login(client, name)
    return client, {"headers": {"X-CSRF-Token": token}, "cookies": {"session": client.get_cookie("session").value}}


@pytest.mark.parametrize(("user", "expected"), [
    (None, {401}),
    ("supervisor", {200, 400, 403, 404}),
    ("dispatcher", {200, 400, 404}),
    ("sanitation", {200, 400, 403, 404}),
])
def test_rest_api_keeps_to_its_openapi_document(app, login, user, expected):
    """Generated requests to every REST operation, logged in as ``user`` (None: not at all), writes with the CSRF
    header: no 5xx; status codes, content types and JSON bodies as documented. A supervisor may not take steps
    (403), a department user reads its own issues only (another's: 404) and no league or greening (403)."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(tag_regex=REST_TAGS)
    assert len(list(schema.get_all_operations())) == 10
    call = _session(app, login, user)[1] if user else {}
    failures, statuses = _fuzz(schema, max_examples=15, checks=STRICT_CHECKS, **call)
    assert not failures, "\n\n".join(f"{label}: {text}" for label, text in failures.items())
    assert len(statuses) >= 100 and expected <= set(statuses), sorted(set(statuses))
    assert user is None or 401 not in statuses


def test_rest_answers_the_fuzzing_rarely_reaches_keep_to_the_document(app, login):
    """A report inside the jurisdiction (201: the issue for a department user, its id only for the public), a photo
    (201), a handled issue (200) and a step another already took (409), each checked against the document."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    crew_client, crew = _session(app, login, "sanitation")
    citizen = _session(app, login, "citizen")[1]

    def call(path: str, method: str, session: dict, **case):
        return schema[path][method].Case(**case).call_and_validate(checks=STRICT_CHECKS, **session)

    report = {"lon": 117.37, "lat": 39.1, "category_code": "06010", "description": "路边堆放生活垃圾"}
    created = call("/api/issues", "POST", crew, body=report, media_type="application/json")
    assert created.status_code == 201 and created.json()["properties"]["category_code"] == "06010"
    assert created.headers["content-type"] == ["application/geo+json"]
    assert created.headers["location"] == [f"/api/issues/{created.json()['properties']['id']}"]
    declared = schema.raw_schema["paths"]["/api/issues"]["post"]["responses"]["201"]["headers"]
    assert declared["Location"]["required"] is True
    public = call("/api/issues", "POST", citizen, body=report, media_type="application/json")
    assert public.status_code == 201 and set(public.json()) == {"id", "tracking_url"} and public.json()["id"] > created.json()["id"]

    issue_id = crew_client.get("/api/issues?status=dispatched&limit=1").get_json()["features"][0]["properties"]["id"]
    where = {"path_parameters": {"issue_id": issue_id}}
    photo = call("/api/issues/{issue_id}/photos", "POST", crew, **where, body={"photo": PNG},
                 media_type="multipart/form-data")
    assert photo.status_code == 201
    step = {"action": "handle", "note": "已清运", "photo": photo.json()["photo"]}
    done = call("/api/issues/{issue_id}/transitions", "POST", crew, **where, body=step, media_type="application/json")
    assert done.status_code == 200 and (done.json()["from_status"], done.json()["to_status"]) == ("dispatched",
                                                                                                  "handled")
    again = call("/api/issues/{issue_id}/transitions", "POST", crew, **where, body=step, media_type="application/json")
    assert again.status_code == 409 and "handled" in again.json()["error"]


def test_no_other_route_answers_a_server_error(app):
    """Every other operation of the document (pages, maps): generated requests never get a 5xx."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).exclude(tag_regex=f"{STANDARD_TAGS}|{REST_TAGS}")
    failures, statuses = _fuzz(schema, max_examples=5, checks=[not_a_server_error])
    assert not failures, "\n\n".join(f"{label}: {text}" for label, text in failures.items())
    assert statuses
