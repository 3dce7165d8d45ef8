"""API Gateway's own error responses: the service's shape, codes and statuses from the one list."""

from __future__ import annotations

import json
from pathlib import Path

from export_common.errors import HTTP_STATUS, ErrorCode
from export_common.gateway_responses import CATCH_ALLS, GATEWAY_RESPONSE_CODES, render_document

MODULE = Path(__file__).resolve().parents[3] / "terraform" / "modules" / "export_service"


def test_the_module_reads_the_generated_list() -> None:
    checked_in = (MODULE / "gateway_responses.json").read_text()
    assert checked_in == render_document(), (
        "regenerate: PYTHONPATH=functions/shared:. .venv/bin/python -m export_common.gateway_responses "
        "> terraform/modules/export_service/gateway_responses.json"
    )
    assert 'file("${path.module}/gateway_responses.json")' in (MODULE / "gateway_responses.tf").read_text()


def test_every_response_is_the_service_error_shape_with_its_code_and_status() -> None:
    responses = json.loads(render_document())
    assert set(responses) == set(GATEWAY_RESPONSE_CODES)
    for response_type, response in responses.items():
        # what API Gateway fills in: a quoted message string; the rest must be the service's JSON
        body = json.loads(response["template"].replace("$context.error.messageString", '"a message"'))
        assert set(body) == {"error", "code"} and body["error"], (response_type, body)
        code = ErrorCode(body["code"])
        expected = None if response_type in CATCH_ALLS else str(HTTP_STATUS[code])
        assert response["status"] == expected, response_type


def test_the_gateway_answers_throttling_and_a_missing_route_as_the_api_does() -> None:
    responses = json.loads(render_document())
    assert responses["THROTTLED"]["status"] == "429"
    assert json.loads(responses["THROTTLED"]["template"])["code"] == "RATE_LIMITED"
    missing = json.loads(responses["MISSING_AUTHENTICATION_TOKEN"]["template"])
    assert missing == {"error": "No such route.", "code": "NOT_FOUND"}
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["status"] == "404"
