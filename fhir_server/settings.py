"""Server configuration, read from the environment (prefix ``FHIR_``).

The README's configuration table is generated from this class (``fhir-server config-table``),
so the code and the docs share one source.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FHIR_", extra="ignore")

    # --- storage ---
    mongodb_uri: str | None = Field(
        default=None,
        description="MongoDB connection URI (a replica set: transactions need one). "
        "Unset: the embedded SecantusDB is started under the data directory.",
    )
    database_name: str = Field(default="fhir", description="MongoDB database name.")
    data_dir: Path = Field(
        default=Path("var"), description="Where the embedded database, blobs and generated keys live."
    )
    embedded_port: int = Field(default=0, description="Port of the embedded database (0: pick a free one).")
    embedded_cache_size: str = Field(
        default="4G", description="Cache size of the embedded database (WiredTiger), e.g. 2G, 512M."
    )
    embedded_durability: Literal["fsync", "write"] = Field(
        default="fsync",
        description="What the embedded database does before it acknowledges a commit: `fsync` flushes "
        "its log to disk (survives power loss); `write` hands it to the operating system (survives "
        "the death of any process, not of the machine; cheaper on disks with slow fsync).",
    )
    database_timeout: float = Field(
        default=3.0,
        gt=0,
        description="Seconds a request waits for an unreachable database before it is answered 503 "
        "(MongoDB server selection and connect timeouts).",
    )

    # --- HTTP ---
    base_url: str = Field(
        default="http://localhost:8080/fhir",
        description="Public base URL of the FHIR endpoint, used in links and Location headers. "
        "Unset: `http://<host>:<port>/fhir` from FHIR_HOST and FHIR_PORT.",
    )
    host: str = Field(default="127.0.0.1", description="Interface `fhir-server serve` binds to.")
    port: int = Field(default=8080, description="Port `fhir-server serve` listens on.")
    workers: int = Field(default=1, description="Number of uvicorn worker processes.")
    max_body_bytes: int = Field(
        default=16 * 1024 * 1024, description="Largest accepted request body for FHIR JSON (413 above)."
    )
    body_read_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a client may take to send a FHIR JSON request body (408 after).",
    )

    # --- search ---
    default_page_size: int = Field(default=20, description="Search page size when `_count` is absent.")
    max_page_size: int = Field(default=1000, description="Largest `_count` honoured.")
    search_hop_limit: int = Field(
        default=1000,
        description="Most ids a chained or `_has` hop may resolve to before the search is refused.",
    )
    include_limit: int = Field(
        default=1000, description="Most resources `_include`/`_revinclude` add to a page."
    )

    # --- bundles ---
    bundle_max_entries: int = Field(default=5000, description="Most entries in a batch or transaction.")
    bundle_max_bytes: int = Field(
        default=64 * 1024 * 1024, description="Largest accepted batch/transaction body (413 above)."
    )

    # --- security ---
    auth_enabled: bool = Field(default=True, description="Require OAuth2 bearer tokens (SMART on FHIR).")
    auth_signing_key: str | None = Field(
        default=None,
        description="PEM private key (RSA or EC) signing access and id tokens. "
        "Unset: a key is generated once under the data directory.",
    )
    access_token_lifetime: int = Field(default=3600, description="Access token lifetime in seconds.")
    refresh_token_lifetime: int = Field(
        default=30 * 24 * 3600,
        description="Refresh token lifetime in seconds: a refresh token unused this long expires "
        "(each rotation issues one with this lifetime, never past FHIR_REFRESH_TOKEN_ABSOLUTE_LIFETIME).",
    )
    external_issuers: str = Field(
        default="[]",
        description='JSON list of trusted external token issuers: [{"issuer": ..., "jwks_uri": ..., '
        '"audience": ...}].',
    )

    # --- staff access: accounts, sign-in, revocation (fhir_server.auth) ---
    refresh_token_absolute_lifetime: int = Field(
        default=90 * 24 * 3600,
        description="Seconds after sign-in when a grant's refresh tokens stop working, however often "
        "they were rotated: the user signs in again.",
    )
    revocation_check_seconds: int = Field(
        default=30,
        ge=1,
        le=60,
        description="How long each server process may rely on its copy of the revocation list (disabled "
        "users and apps, role changes, revoked grants) before reading it again; at most 60.",
    )
    session_lifetime: int = Field(
        default=12 * 3600,
        description="Seconds a sign-in session (cookie) lasts: one sign-in per shift.",
    )
    login_max_failures: int = Field(
        default=5, description="Failed sign-ins (password or code) after which an account is locked."
    )
    login_lockout_seconds: int = Field(default=900, description="How long a locked account stays locked.")
    login_address_max_failures: int = Field(
        default=30,
        description="Failed sign-ins from one network address within FHIR_LOGIN_LOCKOUT_SECONDS after "
        "which that address may not try again until the period ends.",
    )
    totp_required_roles: str = Field(
        default="",
        description="Comma-separated roles whose accounts must use a one-time code app (TOTP) at "
        "sign-in, e.g. admin,doctor; others may enrol (`fhir-server users totp --require`).",
    )
    login_title: str = Field(default="Clinic sign-in", description="Title of the sign-in pages.")
    login_logo: Path | None = Field(
        default=None, description="PNG, JPEG or SVG file shown on the sign-in pages (served by the server)."
    )
    password_reset_lifetime: int = Field(
        default=24 * 3600, description="Seconds a one-time password reset link stays valid."
    )

    # --- conformance ---
    required_profiles: str = Field(
        default="{}",
        description='JSON map of resource type to profile URLs a write must claim, e.g. {"Invoice": [...]}.',
    )
    clinic_currency: str = Field(default="USD", description="The clinic's currency (ISO 4217).")
    booking_past_grace_minutes: int = Field(
        default=15,
        ge=0,
        description="How far in the past (minutes) a proposed, pending or booked appointment may start.",
    )
    clinic_timezone: str = Field(
        default="UTC",
        description="The clinic's IANA time zone (e.g. Europe/Paris), for PractitionerRole.availableTime.",
    )
    unique_identifiers: str = Field(
        default=(
            '{"Patient": ["http://clinic.example.org/fhir/sid/mrn"], '
            '"Practitioner": ["http://clinic.example.org/fhir/sid/staff"]}'
        ),
        description=(
            "JSON map of resource type to identifier systems whose values name at most one current "
            "resource of the type (409 for a second one). Default: the clinic's MRN and staff number."
        ),
    )

    # --- blobs ---
    blob_store: Literal["local", "s3"] = Field(default="local", description="Where Binary bytes are kept.")
    s3_bucket: str | None = Field(default=None, description="S3 bucket for the blob store.")
    s3_prefix: str = Field(default="blobs/", description="Key prefix inside the S3 bucket.")
    s3_endpoint_url: str | None = Field(
        default=None, description="Endpoint of an S3-compatible store (MinIO ...)."
    )
    s3_region: str = Field(default="us-east-1", description="S3 region.")
    s3_presigned_redirect: bool = Field(
        default=False, description="Answer Binary downloads with a redirect to a presigned S3 URL."
    )
    upload_max_bytes: int = Field(default=100 * 1024 * 1024, description="Largest accepted Binary upload.")
    blob_sweep_interval: int = Field(
        default=3600,
        ge=0,
        description="Seconds between sweeps that delete blobs no Binary names (left by writes that "
        "did not commit); the first runs a minute after start-up. 0 turns the sweeper off.",
    )
    blob_sweep_min_age: int = Field(
        default=3600,
        ge=60,
        description="Seconds a blob must have existed before a sweep may delete it: longer than any "
        "write takes, so a blob whose write is still in flight is never swept.",
    )
    binary_inline_max_bytes: int = Field(
        default=1024 * 1024,
        description="Largest Binary whose bytes its FHIR JSON form carries in `data` (base64); "
        "larger ones leave `data` out (fetch the raw content instead).",
    )

    # --- subscriptions ---
    subscriptions_enabled: bool = Field(
        default=True,
        description="Run the subscription machinery in this process (change-stream matching, delivery, "
        "reminders). Every instance may run it: leases in MongoDB keep each piece of work to one.",
    )
    subscription_allowed_endpoints: str = Field(
        default="[]",
        description='JSON list of origins notifications may go to, e.g. ["https://lab.example.org", '
        '"https://*.ehr.example", "http://127.0.0.1:*"]; a port, `:*` (any port) or none (the scheme\'s '
        "default). `http` only for loopback hosts. Empty: no Subscription can be created.",
    )
    subscription_delivery_concurrency: int = Field(
        default=8, ge=1, description="Subscriptions one process delivers to at the same time."
    )
    subscription_retry_base_seconds: float = Field(
        default=2.0,
        gt=0,
        description="First retry delay after a failed delivery (doubles each time, with jitter).",
    )
    subscription_retry_max_seconds: float = Field(
        default=600.0, gt=0, description="Longest delay between two delivery attempts."
    )
    subscription_error_after_failures: int = Field(
        default=3,
        ge=1,
        description="Consecutive failed deliveries that turn a subscription's status to `error`.",
    )
    subscription_queue_limit: int = Field(
        default=10000,
        ge=1,
        description="Most undelivered notifications kept per subscription; older ones are dropped "
        "(the receiver sees the gap in event numbers).",
    )
    subscription_event_retention: int = Field(
        default=1000, ge=0, description="Delivered events kept per subscription for `$events`."
    )
    subscription_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Delivery timeout when a subscription gives none (`backport-timeout`).",
    )
    subscription_max_timeout_seconds: float = Field(
        default=60.0, gt=0, description="Longest delivery timeout a subscription may ask for."
    )
    subscription_min_heartbeat_seconds: int = Field(
        default=10, ge=1, description="Shortest heartbeat period a subscription may ask for."
    )
    subscription_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How long a process holds a subscription (or the change stream) "
        "before another may take it over, unless renewed.",
    )
    subscription_poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often a process looks for deliveries due (work found by its own "
        "change-stream watcher starts at once).",
    )
    subscription_reminder_lead_seconds: int = Field(
        default=24 * 3600,
        ge=60,
        description="How long before an appointment's start the appointment-reminder topic fires.",
    )
    subscription_reminder_interval_seconds: float = Field(
        default=60.0, gt=0, description="How often the appointment-reminder trigger runs."
    )

    # --- background jobs and bulk export ---
    job_max_concurrent: int = Field(
        default=2,
        ge=0,
        description="Background jobs (bulk exports ...) one server instance runs at once; "
        "0: this instance runs none (other instances do).",
    )
    job_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a running job stays with its instance without a heartbeat: a killed "
        "instance's jobs are taken over (and resume from their last checkpoint) after it.",
    )
    job_poll_seconds: float = Field(
        default=2.0, gt=0, description="How often an idle instance looks for queued or abandoned jobs."
    )
    job_retention_seconds: int = Field(
        default=24 * 3600,
        ge=0,
        description="How long finished jobs and their files (export NDJSON) are kept before removal.",
    )
    bulk_export_file_resources: int = Field(
        default=50_000,
        ge=1,
        description="Most resources in one NDJSON file of a bulk export (more are split over "
        "several files); each file is a checkpoint an interrupted export resumes after.",
    )
    bulk_export_presigned_downloads: bool = Field(
        default=False,
        description="With the S3 blob store: answer export file downloads, after the token check, "
        "with a redirect to a presigned URL valid for 5 minutes.",
    )

    # --- audit ---
    audit_enabled: bool = Field(
        default=True,
        description="Record an AuditEvent for every interaction and a Provenance for every write.",
    )
    audit_flush_interval: float = Field(
        default=0.2,
        gt=0,
        description="Seconds the AuditEvents of reads, searches and refused requests may wait in memory "
        "before they are written: the most a crash can lose. Also how soon a write's AuditEvent and "
        "Provenance (committed with the write) become searchable.",
    )
    audit_max_pending: int = Field(
        default=1000,
        ge=1,
        description="Most unwritten AuditEvents held in memory; beyond it requests wait for the write.",
    )
    audit_chain_key: str | None = Field(
        default=None,
        description="Secret keying the audit log's hash chain (HMAC-SHA256), so that only the server "
        "can extend it. Unset: plain SHA-256, which detects edits that do not recompute the chain.",
    )
    audit_retention_days: int = Field(
        default=2190,
        ge=0,
        description="Days AuditEvents are kept (six years by default); older ones are removed daily, "
        "never a younger one. 0 keeps them forever.",
    )

    # --- observability ---
    log_level: str = Field(default="INFO", description="Log level.")
    sentry_dsn: str | None = Field(default=None, description="Sentry DSN; unset disables error tracking.")
    otel_endpoint: str | None = Field(
        default=None, description="OTLP endpoint for OpenTelemetry traces; unset disables tracing."
    )
    otel_service_name: str = Field(
        default="fhir-server", description="`service.name` of the traces sent to the OTLP endpoint."
    )
    sentry_environment: str | None = Field(
        default=None, description="Environment name attached to Sentry events (production, staging ...)."
    )
    sentry_traces_sample_rate: float = Field(
        default=0.0, description="Share of requests Sentry traces for performance monitoring (0 to 1)."
    )
    metrics_enabled: bool = Field(
        default=True,
        description="Serve Prometheus metrics at `/metrics` "
        "(unauthenticated: keep it off the public network).",
    )

    @field_validator("clinic_timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value}' is not an IANA time zone (e.g. Europe/Paris)") from None
        return value

    _base_url_derived: bool = PrivateAttr(default=False)

    @model_validator(mode="after")
    def _base_url_from_listen_address(self) -> Settings:
        if "base_url" not in self.model_fields_set:
            host = "localhost" if self.host in {"0.0.0.0", "::", *LOOPBACK_HOSTS} else self.host
            if ":" in host:
                host = f"[{host}]"
            self.base_url = f"http://{host}:{self.port}/fhir"
            self._base_url_derived = True
        return self

    @property
    def base_url_aliases(self) -> tuple[str, ...]:
        """Other spellings of our own base URL that a token may name as issuer and audience.

        Only when ``serve`` binds a loopback address and no public base URL is set: then
        ``127.0.0.1``, ``localhost`` and ``[::1]`` all name this one server, and a client given any
        of them (the banner, a browser, a SMART app) is not refused. Never for a public base URL."""
        if not self._base_url_derived or self.host not in LOOPBACK_HOSTS:
            return ()
        spellings = (f"http://{host}:{self.port}/fhir" for host in ("127.0.0.1", "localhost", "[::1]"))
        return tuple(url for url in spellings if url != self.base_url.rstrip("/"))

    @property
    def embedded(self) -> bool:
        return self.mongodb_uri is None


@lru_cache
def get_settings() -> Settings:
    return Settings()
