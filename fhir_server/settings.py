"""Server configuration, read from the environment (prefix ``FHIR_``).

The README's configuration table is generated from this class (``fhir-server config-table``),
so the code and the docs share one source.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        default=30 * 24 * 3600, description="Refresh token lifetime in seconds."
    )
    external_issuers: str = Field(
        default="[]",
        description='JSON list of trusted external token issuers: [{"issuer": ..., "jwks_uri": ..., '
        '"audience": ...}].',
    )

    # --- conformance ---
    required_profiles: str = Field(
        default="{}",
        description='JSON map of resource type to profile URLs a write must claim, e.g. {"Invoice": [...]}.',
    )
    clinic_currency: str = Field(default="USD", description="The clinic's currency (ISO 4217).")
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
    binary_inline_max_bytes: int = Field(
        default=1024 * 1024,
        description="Largest Binary whose bytes its FHIR JSON form carries in `data` (base64); "
        "larger ones leave `data` out (fetch the raw content instead).",
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

    @model_validator(mode="after")
    def _base_url_from_listen_address(self) -> Settings:
        if "base_url" not in self.model_fields_set:
            host = "localhost" if self.host in {"0.0.0.0", "::", "127.0.0.1"} else self.host
            self.base_url = f"http://{host}:{self.port}/fhir"
        return self

    @property
    def embedded(self) -> bool:
        return self.mongodb_uri is None


@lru_cache
def get_settings() -> Settings:
    return Settings()
