"""Completion webhooks: the URL rules, the queue message, the retry schedule and the delivery state.

A job created with a ``callbackUrl`` is reported to that URL once it is SUCCEEDED, FAILED or CANCELLED.
The delivery runs in its own Lambda (``export_callbacks``) off the callbacks queue; this module holds
what the API, the worker and that Lambda share:

* ``CallbackPolicy``: which URLs and resolved addresses may be called (https only and public addresses
  only by default; a deployment may allow more, e.g. http to 127.0.0.1 locally, by settings);
* ``CallbackMessage``: ``{jobId, attempt, notBefore?}``, the body of a callbacks-queue message;
* ``CallbackSchedule``: exponential backoff, stretched past SQS's 15-minute delay limit by re-enqueueing
  with ``notBefore``;
* ``CallbackNotifier``: the one call every terminal transition makes (``job_ended``), and the delayed
  safety message sent at job creation, so that a crash between "job final" and "webhook queued" cannot
  lose the webhook;
* ``export_common.table.CallbackStore``: the conditional updates of the job record's ``callback`` map,
  so that duplicate messages never run one attempt twice at once and a late write never moves the
  state backwards.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import SplitResult, urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, Field

from export_common.errors import ErrorCode
from export_common.jobs import CallbackRecord, CallbackState, Job, JobError, JobStatus
from export_common.keys import content_type_of
from export_common.limits import SQS_MAX_DELAY_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

logger = logging.getLogger(__name__)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_CALLBACK_URL_LENGTH: Final = 2048
MAX_SQS_DELAY_SECONDS: Final = SQS_MAX_DELAY_SECONDS
"""SQS's longest DelaySeconds; longer waits are chained with ``notBefore``."""
MIN_RETRY_WINDOW_SECONDS: Final = 24 * 3600
"""The production schedule (the module defaults) must keep retrying for at least this long."""
USER_AGENT: Final = "video-export-webhooks/1"
_URL_CHARS = re.compile(r"[\x21-\x7e]+")


DEFAULT_PORTS: Final = {"https": 443, "http": 80}
"""The port a webhook may use with each scheme; any other needs the deployment's extra ports."""


def _port_range(text: str) -> tuple[int, int]:
    low, _, high = text.strip().partition("-")
    first, last = int(low), int(high or low)
    if not 1 <= first <= last <= 65535:
        raise ValueError(f"not a port range: {text!r}")
    return first, last


class CallbackUrlError(ValueError):
    """A callback URL or address the policy refuses; the message is safe to show to the client."""


def _embedded_ipv4(ip: IpAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo), which is what gets reached."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return None


@dataclass(frozen=True)
class CallbackPolicy:
    """Which callback URLs are accepted at ``POST /export`` and which addresses a delivery may connect to.

    ``allowed_schemes``: ``{"https"}`` in production. ``allowed_networks``: networks exempt from the
    public-address rule (none in production; ``127.0.0.0/8`` for a local stack whose receivers run on the
    host). Every other address must be globally routable: loopback, private, link-local (with the
    instance metadata address 169.254.169.254), unique-local, multicast and reserved ranges are refused,
    also when wrapped in an IPv6 address (IPv4-mapped, 6to4, Teredo).
    """

    allowed_schemes: frozenset[str] = frozenset({"https"})
    allowed_networks: tuple[IpNetwork, ...] = ()
    extra_ports: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_lists(
        cls, schemes: Iterable[str], networks: Iterable[str], ports: Iterable[str] = ()
    ) -> CallbackPolicy:
        """``ports``: extra ports or ranges (``"8080"``, ``"1024-65535"``) beyond the scheme's own."""
        return cls(
            allowed_schemes=frozenset(s.strip().lower() for s in schemes if s.strip()),
            allowed_networks=tuple(ipaddress.ip_network(n.strip()) for n in networks if n.strip()),
            extra_ports=tuple(_port_range(p) for p in ports if p.strip()),
        )

    def port_allowed(self, port: int) -> bool:
        """443 with https, 80 where http is allowed, and the deployment's extra ports (local receivers)."""
        if any(DEFAULT_PORTS.get(scheme) == port for scheme in self.allowed_schemes):
            return True
        return any(low <= port <= high for low, high in self.extra_ports)

    def check_address(self, ip: IpAddress) -> None:
        """Raises ``CallbackUrlError`` unless a delivery may connect to ``ip``."""
        if any(ip in network for network in self.allowed_networks):
            return
        candidates: list[IpAddress] = [ip]
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            if any(embedded in network for network in self.allowed_networks):
                return
            candidates.append(embedded)
        for address in candidates:
            if (
                not address.is_global
                or address.is_multicast
                or address.is_reserved
                or address.is_unspecified
                or address.is_loopback
                or address.is_link_local
                or address.is_private
            ):
                raise CallbackUrlError(f"callbackUrl must reach a public address; {ip} is not public")

    def check_url(self, url: str) -> SplitResult:
        """The parsed URL, or ``CallbackUrlError`` with a readable reason; host names resolve later."""
        if len(url) > MAX_CALLBACK_URL_LENGTH:
            raise CallbackUrlError(f"callbackUrl must be at most {MAX_CALLBACK_URL_LENGTH} characters")
        if not _URL_CHARS.fullmatch(url):
            raise CallbackUrlError("callbackUrl must be printable ASCII without spaces (percent-encode)")
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in self.allowed_schemes:
            allowed = " or ".join(sorted(self.allowed_schemes)) or "nothing"
            raise CallbackUrlError(f"callbackUrl must use {allowed}")
        if not parts.hostname:
            raise CallbackUrlError("callbackUrl must name a host")
        if parts.username is not None or parts.password is not None:
            raise CallbackUrlError("callbackUrl must not carry credentials")
        if parts.fragment or url.endswith("#"):
            raise CallbackUrlError("callbackUrl must not have a fragment")
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError:
            raise CallbackUrlError("callbackUrl has an invalid port") from None
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            pass
        else:
            self.check_address(literal)
        if not self.port_allowed(port):
            ports = " or ".join(
                str(DEFAULT_PORTS[s]) for s in sorted(self.allowed_schemes) if s in DEFAULT_PORTS
            )
            raise CallbackUrlError(f"callbackUrl must use port {ports}; {port} is not allowed")
        return parts


def callback_path(url: str) -> str:
    """The path the webhook is signed over: the URL's path as written (``/`` when it has none)."""
    return urlsplit(url).path or "/"


class CallbackMessage(BaseModel):
    """The body of a callbacks-queue message: deliver attempt ``attempt`` of the job's webhook.

    ``notBefore`` (unix seconds): not before then; a message that arrives early is sent again with the
    remaining delay (at most 15 minutes each time), which is how waits beyond SQS's limit are built.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    job_id: str = Field(alias="jobId", min_length=1, max_length=64)
    attempt: int = Field(1, ge=1, le=1000)
    not_before: int | None = Field(default=None, alias="notBefore")

    def body(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_none=True)


@dataclass(frozen=True)
class CallbackSchedule:
    """When the next attempt runs: ``first_delay * factor ** (n - 1)`` after attempt n failed, capped."""

    first_delay_seconds: int = 30
    backoff_factor: float = 2.0
    max_delay_seconds: int = 6 * 3600
    max_attempts: int = 15

    def delay_after(self, attempt: int) -> int:
        """Seconds between the end of failed attempt ``attempt`` (1-based) and the next one."""
        delay = self.first_delay_seconds * self.backoff_factor ** max(attempt - 1, 0)
        return int(min(delay, self.max_delay_seconds))

    def window_seconds(self) -> int:
        """From the first attempt to the last: how long a receiver may be down without losing the webhook."""
        return sum(self.delay_after(n) for n in range(1, self.max_attempts))


@dataclass
class CallbackNotifier:
    """Queues webhook deliveries; every failure is logged, never raised (the safety message backs it up)."""

    sqs: SQSClient
    queue_url: str
    watch_seconds: int = MAX_SQS_DELAY_SECONDS

    def job_ended(self, job_id: str) -> None:
        """Called on every terminal transition: queues the webhook's first attempt now.

        A job without a callback URL costs one message the delivery function drops after one read.
        """
        try:
            self.send(CallbackMessage(job_id=job_id))
        except (ClientError, BotoCoreError):
            logger.warning("could not queue the webhook; the safety message will", extra={"jobId": job_id})

    def watch(self, job_id: str) -> None:
        """The safety message at job creation: looks at the job after ``watch_seconds`` and again
        after that, until the job ends; then delivers the first attempt if nothing did. Raises on failure
        (the API then refuses the job rather than risk a webhook that may never be sent)."""
        self.send(CallbackMessage(job_id=job_id), delay_seconds=self.watch_seconds)

    def send(self, message: CallbackMessage, *, delay_seconds: int = 0) -> None:
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=message.body(),
            DelaySeconds=max(0, min(delay_seconds, MAX_SQS_DELAY_SECONDS)),
        )


def presigned_download(
    s3: S3Client, *, bucket: str, key: str, job_id: str, expires_in: int, now: float
) -> tuple[str, str]:
    """A presigned GET of a job's output (or poster) and its expiry (ISO 8601); the API and the webhook
    share it. The content type and the file name's extension follow the key's."""
    extension = key[key.rfind(".") :]
    url = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentType": content_type_of(key),
            "ResponseContentDisposition": f'attachment; filename="export-{job_id}{extension}"',
        },
        ExpiresIn=expires_in,
    )
    expires = datetime.fromtimestamp(now + expires_in, UTC).isoformat(timespec="seconds")
    return url, expires.replace("+00:00", "Z")


def outcome_fields(
    job: Job, s3: S3Client, *, exports_bucket: str, download_expiry_seconds: int, now: float
) -> dict[str, Any]:
    """What a final job reports, in ``GET /export/{jobId}`` and in its webhook: ``error``/``errorCode``
    when FAILED; ``outputKey``, ``downloadUrl``, ``downloadUrlExpiresAt``, ``output`` (and ``posterKey``,
    ``posterUrl`` for an ``output.poster``) when SUCCEEDED; ``usage`` once the job ended."""
    fields: dict[str, Any] = {}
    if job.status.is_final:
        fields["usage"] = job.usage.public()
    if job.status is JobStatus.FAILED:
        # Stored as {code, message}; reported as a readable string beside its code.
        error = job.error or JobError(code=ErrorCode.INTERNAL_ERROR.value, message="The export failed.")
        fields["error"] = error.message
        fields["errorCode"] = error.code
    if job.status is JobStatus.SUCCEEDED and job.output is not None:
        url, expires = presigned_download(
            s3,
            bucket=exports_bucket,
            key=job.output.key,
            job_id=job.job_id,
            expires_in=download_expiry_seconds,
            now=now,
        )
        fields["outputKey"] = job.output.key
        fields["downloadUrl"] = url
        fields["downloadUrlExpiresAt"] = expires
        fields["output"] = {
            "durationSeconds": job.output.duration_seconds,
            "sizeBytes": job.output.size_bytes,
            "width": job.output.width,
            "height": job.output.height,
        }
        if job.output.poster_key is not None:
            fields["posterKey"] = job.output.poster_key
            fields["posterUrl"], _ = presigned_download(
                s3,
                bucket=exports_bucket,
                key=job.output.poster_key,
                job_id=job.job_id,
                expires_in=download_expiry_seconds,
                now=now,
            )
    return fields


def public_callback_view(record: CallbackRecord) -> dict[str, Any]:
    """The ``callback`` object of ``GET /export/{jobId}``: state, attempts, the last HTTP status (null
    when the last attempt got no answer), the last error, and when the next attempt is due."""
    view: dict[str, Any] = {
        "state": record.state.value,
        "attempts": record.attempts,
        "lastStatus": record.last_status,
    }
    if record.last_error:
        view["lastError"] = record.last_error
    if record.next_attempt_at is not None and record.state is CallbackState.RETRYING:
        due = datetime.fromtimestamp(record.next_attempt_at, UTC).isoformat(timespec="seconds")
        view["nextAttemptAt"] = due.replace("+00:00", "Z")
    return view
