"""The REST routes (Powertools ``APIGatewayRestResolver``) and the one place errors become responses.

``ExportApi.handle`` runs the gate (signature, replay, size, content type, JSON) before the resolver so
that Powertools' body validation only ever sees authenticated, well-formed JSON objects.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
    ResponseValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from botocore.exceptions import BotoCoreError, ClientError

from export_api import gate
from export_api.auth import Authenticator
from export_api.exports import ExportService
from export_api.health import HealthChecker
from export_api.models import (
    CancelExportResponse,
    CreateExportResponse,
    ErrorResponse,
    HealthResponse,
    JobStatusResponse,
    PresignRequest,
    PresignResponse,
)
from export_api.presign import presign_uploads
from export_api.settings import Settings
from export_common.errors import ErrorCode, ServiceError
from export_common.jobs import JobStatus
from render.model import ExportRequest

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_s3 import S3Client

logger = Logger(child=True)

SECURITY_SCHEME = "base44Signature"
TIMESTAMP_SCHEME = "base44Timestamp"
SIGNED: list[dict[str, list[str]]] = [{SECURITY_SCHEME: [], TIMESTAMP_SCHEME: []}]
RESPONSE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


@dataclass
class Services:
    """Everything the routes need, built once per cold start (tests build it with moto-backed clients)."""

    settings: Settings
    authenticator: Authenticator
    exports: ExportService
    health: HealthChecker
    s3: S3Client


def _error_docs(*codes: int) -> dict[int, OpenAPIResponse]:
    described = {
        400: "Invalid JSON or validation error (details carry the field paths)",
        401: "Missing, malformed, expired, wrong or replayed signature",
        404: "Unknown route or job",
        405: "Method not allowed on this route",
        409: "Idempotency-Key reused with a different body (POST); the job already ended (DELETE)",
        413: "Body larger than the limit",
        415: "Body is not application/json",
        503: "A dependency (queue, table, storage) is unavailable; retry later",
    }
    return {
        code: {"description": described[code], "content": {"application/json": {"model": ErrorResponse}}}
        for code in codes
    }


def as_service_error(error: Exception) -> ServiceError:
    """The one mapping from an exception to what the client sees, for the gate and the resolver alike.

    AWS failures become 503 and anything else 500, both logged with their traceback here and shown to the
    client without detail.
    """
    if isinstance(error, ServiceError):
        if error.http_status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            logger.warning("dependency failure", extra={"code": error.code.value})
        return error
    if isinstance(error, ClientError | BotoCoreError):
        logger.exception("AWS call failed", extra={"error": type(error).__name__})
        return ServiceError(ErrorCode.DEPENDENCY_UNAVAILABLE, "A dependency is unavailable; retry later.")
    logger.exception("unhandled error", extra={"error": type(error).__name__})
    return ServiceError(ErrorCode.INTERNAL_ERROR, "Internal error.")


def _json_response(status: int, body: Mapping[str, Any]) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=dict(body),
        headers=dict(RESPONSE_HEADERS),
    )


def _path_of(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "assets", 0, "ext")`` → ``assets[0].ext`` (the body prefix is implied)."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def validation_details(errors: Any) -> list[dict[str, str]]:
    """Field path and pydantic's message; never the input value (it may be large or sensitive)."""
    details = []
    for error in list(errors)[:50]:
        loc = error.get("loc", ())
        is_header = bool(loc) and loc[0] == "header"
        path = "headers." + ".".join(str(p) for p in loc[1:]) if is_header else _path_of(loc)
        details.append({"path": path, "message": str(error.get("msg", "invalid value"))[:500]})
    return details


class ExportApi:
    """The resolver with its routes; ``services`` is called lazily so importing costs no AWS calls."""

    def __init__(self, services: Callable[[], Services]):
        self._services = services
        # A response that fails its model is our bug: 500, not Powertools' default 422-as-request-error.
        self.app = APIGatewayRestResolver(
            enable_validation=True, response_validation_error_http_code=HTTPStatus.INTERNAL_SERVER_ERROR
        )
        self._register_routes()
        self._register_error_handlers()

    # ----------------------------------------------------------------- entry point
    def handle(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        try:
            services = self._services()
            gate.check_request(event, services.authenticator, max_body_bytes=services.settings.max_body_bytes)
        except Exception as error:  # the gate runs before the resolver, so its errors are answered here
            refused = as_service_error(error)
            return {
                "statusCode": refused.http_status,
                "headers": {"Content-Type": content_types.APPLICATION_JSON, **RESPONSE_HEADERS},
                "body": json.dumps(refused.to_body(), separators=(",", ":")),
                "isBase64Encoded": False,
            }
        return self.app.resolve(event, context)

    # ----------------------------------------------------------------- routes
    def _register_routes(self) -> None:
        app = self.app

        @app.get(
            "/health",
            summary="Version and reachability of the dependencies (unsigned)",
            security=[],
            responses={
                200: {
                    "description": "All dependencies answer",
                    "content": {"application/json": {"model": HealthResponse}},
                },
                503: {
                    "description": "A dependency fails",
                    "content": {"application/json": {"model": HealthResponse}},
                },
            },
            tags=["health"],
        )
        def health() -> Response[HealthResponse]:
            result = self._services().health.check()
            status = HTTPStatus.OK if result.status == "ok" else HTTPStatus.SERVICE_UNAVAILABLE
            return _json_response(status, result.model_dump(mode="json"))

        @app.post(
            "/export/presign",
            summary="Presigned upload URLs (PUT and form POST) for the assets of an export",
            security=SIGNED,
            responses={
                200: {
                    "description": "One upload per asset",
                    "content": {"application/json": {"model": PresignResponse}},
                },
                **_error_docs(400, 401, 413, 415),
            },
            tags=["export"],
        )
        def presign(body: Annotated[PresignRequest, Body()]) -> PresignResponse:
            services = self._services()
            settings = services.settings
            return presign_uploads(
                body,
                services.s3,
                bucket=settings.assets_bucket_name,
                expires_in=settings.upload_url_expiry_seconds,
                max_upload_bytes=settings.max_upload_bytes,
            )

        @app.post(
            "/export",
            summary="Start an export job",
            security=SIGNED,
            status_code=HTTPStatus.ACCEPTED,
            responses={
                202: {
                    "description": "Job queued (or the existing job for a repeated Idempotency-Key)",
                    "content": {"application/json": {"model": CreateExportResponse}},
                },
                **_error_docs(400, 401, 409, 413, 415, 503),
            },
            tags=["export"],
        )
        def create_export(
            body: Annotated[ExportRequest, Body()],
            idempotency_key: Annotated[
                str | None,
                Header(
                    alias="Idempotency-Key",
                    description="same key and body return the same job; a different body is a 409",
                ),
            ] = None,
        ) -> CreateExportResponse:
            return self._services().exports.create(body, idempotency_key)

        @app.get(
            "/export/<jobId>",
            summary="Status of an export job; a download URL once it succeeded",
            security=SIGNED,
            responses={
                200: {
                    "description": "The job",
                    "content": {"application/json": {"model": JobStatusResponse}},
                },
                **_error_docs(401, 404),
            },
            tags=["export"],
        )
        def get_export(
            jobId: Annotated[str, Path(description="the id POST /export returned")],  # noqa: N803
        ) -> Response[dict[str, Any]]:  # the model is documented above; absent fields are left out
            status = self._services().exports.status(jobId)
            body = status.model_dump(mode="json", exclude_none=True)
            if status.callback is not None:  # null until an attempt got an HTTP answer, but always there
                body["callback"]["lastStatus"] = status.callback.lastStatus
            return _json_response(HTTPStatus.OK, body)

        @app.delete(
            "/export/<jobId>",
            summary="Cancel an export job: a queued one at once, a running one within one heartbeat",
            security=SIGNED,
            status_code=HTTPStatus.ACCEPTED,
            responses={
                202: {
                    "description": (
                        "Cancel taken: CANCELLED (the job was queued) or CANCELLING (the worker stops it, "
                        "removes its output and work files, ends it CANCELLED and sends its webhook)"
                    ),
                    "content": {"application/json": {"model": CancelExportResponse}},
                },
                200: {
                    "description": "The job was already CANCELLED",
                    "content": {"application/json": {"model": CancelExportResponse}},
                },
                **_error_docs(401, 404, 409, 503),
            },
            tags=["export"],
        )
        def cancel_export(
            jobId: Annotated[str, Path(description="the id POST /export returned")],  # noqa: N803
        ) -> Response[dict[str, Any]]:
            changed, cancelled = self._services().exports.cancel(jobId)
            already = not changed and cancelled.status is JobStatus.CANCELLED
            status = HTTPStatus.OK if already else HTTPStatus.ACCEPTED
            return _json_response(status, cancelled.model_dump(mode="json"))

    # ----------------------------------------------------------------- errors
    def _register_error_handlers(self) -> None:
        app = self.app

        def reply(error: Exception) -> Response[Any]:
            refused = as_service_error(error)
            return _json_response(refused.http_status, refused.to_body())

        def validation_error(error: RequestValidationError) -> Response[Any]:
            details = validation_details(error.errors())
            if any(d["path"].startswith("headers.") for d in details) or not details:
                message = "The request is invalid."
            else:
                message = "The request body is invalid: " + "; ".join(
                    f"{d['path']}: {d['message']}" for d in details[:3]
                )
            return reply(ServiceError(ErrorCode.VALIDATION_ERROR, message[:1000], details=details))

        def unsupported_type(_: RequestUnsupportedContentType) -> Response[Any]:
            return reply(ServiceError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Send the body as application/json."))

        def not_found(_: NotFoundError) -> Response[Any]:
            method = app.current_event.http_method.upper()
            path = app.current_event.path
            allowed = sorted(
                {
                    route.method
                    for route in app._static_routes + app._dynamic_routes  # no public API for this
                    if route.rule.match(path)
                }
            )
            if allowed and method not in allowed:
                response = reply(ServiceError(ErrorCode.METHOD_NOT_ALLOWED, f"Use {', '.join(allowed)}."))
                response.headers["Allow"] = ", ".join(allowed)
                return response
            return reply(ServiceError(ErrorCode.NOT_FOUND, "No such route."))

        # Powertools' decorator is untyped; registering by call keeps mypy --strict meaningful here.
        app.exception_handler(RequestValidationError)(validation_error)
        app.exception_handler(RequestUnsupportedContentType)(unsupported_type)
        app.exception_handler([ServiceError, ClientError, BotoCoreError, Exception, ResponseValidationError])(
            reply
        )
        app.not_found(not_found)
