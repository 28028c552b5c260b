"""The OpenAPI document: every route is in it, and the app keeps to it (schemathesis, in process)."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from webmap.app import create_app
from webmap.openapi import openapi_document


STANDARD_TAGS = "^(open311|ogcapi|meta)$"


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
    for ref in re.findall(r'"\$ref": "#/components/(\w+)/([\w.]+)"', str(document).replace("'", '"')):
        assert ref[1] in document["components"][ref[0]], ref


def _fuzz(schema, *, checks: list, max_examples: int) -> tuple[dict[str, str], list[int]]:
    """Run generated requests against every operation of ``schema``: (failures by operation, statuses seen)."""
    failures, statuses = {}, []
    for operation in [result.ok() for result in schema.get_all_operations()]:
        @given(case=operation.as_strategy())
        @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case):
            statuses.append(case.call_and_validate(checks=checks).status_code)

        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then report them all
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:2000]
    return failures, statuses


def test_standard_apis_keep_to_their_openapi_document(app):
    """Generated requests to every Open311, OGC API and OpenAPI operation: no 5xx; status codes, content
    types and JSON bodies as documented. (schemathesis's pytest plugin does not run under pytest 9, so the
    operations are driven through Hypothesis here.)"""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).include(tag_regex=STANDARD_TAGS)
    assert len(list(schema.get_all_operations())) == 14
    failures, statuses = _fuzz(schema, max_examples=25, checks=[
        not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance])
    assert not failures, "\n\n".join(f"{label}: {text}" for label, text in failures.items())
    # the generated requests reached both the answers and the errors
    assert len(statuses) > 100 and {200, 400, 404} <= set(statuses), sorted(set(statuses))


def test_no_other_route_answers_a_server_error(app):
    """Every other operation of the document (pages, maps, REST): generated requests never get a 5xx."""
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app).exclude(tag_regex=STANDARD_TAGS)
    failures, statuses = _fuzz(schema, max_examples=5, checks=[not_a_server_error])
    assert not failures, "\n\n".join(f"{label}: {text}" for label, text in failures.items())
    assert statuses
