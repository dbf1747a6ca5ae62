"""Settings, read once from `CASEVAULT_*` environment variables and passed down as values."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from archive.digests import parse_algorithms

# What the public portal's settings hold instead of the archive store: no store opens from it.
WITHHELD = "withheld://archive-realm"


def _networks_of(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in value.split(",") if p.strip())


class Settings(BaseSettings):
    """Everything an operator can configure."""

    model_config = SettingsConfigDict(env_prefix="CASEVAULT_", extra="ignore", populate_by_name=True)

    data_dir: Path = Path("./var")
    database_url: str | None = None
    # The schema owner's connection, for migrations only; the apps connect as roles that cannot
    # alter tables or drop triggers (scripts/db_roles.sql). Unset: the same as `database_url`.
    migration_database_url: str | None = Field(
        default=None,
        validation_alias="CASEVAULT_MIGRATE_DATABASE_URL",
    )
    store: str | None = None
    release_store: str | None = None
    digests: str = "sha256,sm3"
    source_organization: str = "深圳市民防委员会办公室"
    retention_years: int = 30
    s3_part_size: int = 5 << 20  # the S3 minimum: two part buffers keep a deposit under 120 MB
    reconcile_grace_minutes: int = 60
    token_secret: str | None = None
    token_minutes: int = 15
    # The public portal's token secret (separate, so a public host cannot mint internal tokens).
    public_token_secret: str | None = None
    # Base64 X25519 public key that seals applicants' ID numbers on a separate public host.
    id_number_public_key: str | None = None
    # How long an applicant may view released material after the decision (days).
    release_days: int = 30
    public_url: str = "http://127.0.0.1:8000"
    lockout_attempts: int = 5
    lockout_minutes: int = 15
    cookie_secure: bool = True
    # The command line acts as an archivist; this is the state-secret clearance it holds.
    operator_clearance: str = "none"
    # Single sign-on (OpenID Connect, authorization code + PKCE); off unless an issuer is set.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_roles_claim: str = "groups"
    # JSON object: IdP group → "role [department=D] [clearance=G]", e.g.
    # {"archive-staff": "archivist", "legal-office": "supervisor department=legal clearance=secret"}
    oidc_role_map: dict[str, str] = {}
    # Ledger checkpoints (signed Merkle tree heads): every N entries or M minutes. What came after
    # the newest one is all a database owner could cut unseen (docs/ledger.md weighs the cost).
    checkpoint_every_entries: int = 100
    checkpoint_every_minutes: int = 5
    # How long each checkpoint's copy stays locked in the archive store.
    checkpoint_retention_years: int = 30
    # The ledger's name in its C2SP checkpoints (and its Ed25519 key's name): a schema-less URL.
    ledger_origin: str = "casevault.invalid/ledger"
    # The checkpoint key's verifier key (name+id+key), for a public portal on its own host;
    # unset: the public half the internal portal leaves in the data dir.
    ledger_note_vkey: str | None = None
    # Witnesses that cosign each new checkpoint: "URL VKEY" items separated by commas, VKEY
    # being the witness's cosignature key (`python scripts/witness.py vkey`).
    witnesses: str = ""
    # Request bodies: JSON and forms, and the routes that take files (redacted copies).
    body_limit_bytes: int = 1 << 20
    upload_limit_bytes: int = 2 << 30
    # Deposits from the portal and the API (a ZIP body, or tus uploads): the most one deposit may
    # hold, unpacked, and where its uploads wait until it commits — never the archive store. Unset:
    # `staging` in the data dir. Uploads not touched for `upload_expiry_hours` are removed.
    deposit_limit_bytes: int = Field(default=20 << 30, ge=1)
    staging_dir: Path | None = None
    upload_expiry_hours: int = Field(default=72, ge=1)
    # Fixity audits (定期检测): every bundle re-verified at least this often; the serve loop runs
    # an audit round this often; reads are held to this rate (0: unlimited) and a round audits at
    # most this many bundles (0: every due one), so a big archive spreads its reads.
    audit_every_days: int = Field(default=90, ge=1)
    audit_run_every_minutes: int = Field(default=1440, ge=0)
    audit_bytes_per_second: int = Field(default=0, ge=0)
    audit_bundles_per_run: int = Field(default=0, ge=0)
    # Durable jobs (copies, audits, retention runs, the periodic chores). `serve` runs a worker
    # with this many copy threads (0: none; `casevault worker` processes run the jobs instead).
    # A worker's lease on a job lasts this long unless its heartbeat renews it; a killed worker's
    # job is claimed again once it runs out. Idle workers look for jobs this often.
    serve_workers: int = Field(default=2, ge=0)
    job_lease_seconds: float = Field(default=60.0, gt=0)
    job_poll_seconds: float = Field(default=1.0, gt=0)
    # Where copies and viewing renditions are prepared and kept until fetched or expired: a folder
    # every host running `serve` or `casevault worker` shares. Unset: `copies` in the data dir.
    copies_dir: Path | None = None
    # Operations (docs: README "Operations"). `/metrics` answers callers from these networks
    # (comma-separated CIDRs; empty: none) or with this bearer token; everyone else gets 404.
    metrics_networks: str = "127.0.0.0/8,::1/128"
    metrics_token: str | None = Field(default=None, min_length=16)
    # Reverse proxies (CIDRs) whose X-Forwarded-For is believed when deciding who asks for
    # `/metrics`; empty: the header is never believed and the peer address decides.
    trusted_proxies: str = ""
    # Log lines: one JSON object each, or plain text; `auto` is text on a terminal, JSON otherwise.
    log_format: Literal["auto", "json", "text"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # On SIGTERM, requests under way (uploads) get this long to finish before they are cut off.
    shutdown_grace_seconds: int = Field(default=30, ge=0)

    @field_validator("metrics_networks", "trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not a network in CIDR form (e.g. 10.0.0.0/8)") from exc
        return value

    @field_validator("digests")
    @classmethod
    def _known_digests(cls, value: str) -> str:
        parse_algorithms(value)
        return value

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The digest algorithms each deposit computes."""
        return parse_algorithms(self.digests)

    @property
    def resolved_database_url(self) -> str:
        """The configured database, or SQLite in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir.resolve() / 'casevault.db'}"

    @property
    def metrics_allowed(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The networks `/metrics` answers."""
        return _networks_of(self.metrics_networks)

    @property
    def proxies(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The reverse proxies whose X-Forwarded-For is believed."""
        return _networks_of(self.trusted_proxies)

    @property
    def resolved_migration_database_url(self) -> str:
        """The database as its owner, for migrations: the migration URL, or the usual one."""
        return self.migration_database_url or self.resolved_database_url

    @property
    def checkpoint_retention(self) -> timedelta:
        """The lock on each checkpoint's copy in the store, in days (leap days averaged in)."""
        return timedelta(days=round(365.2425 * self.checkpoint_retention_years))

    @property
    def release_store_url(self) -> str:
        """The release realm (公开件): the configured store, or a FileStore beside the archive's."""
        return self.release_store or f"file://{self.data_dir.resolve() / 'release'}"

    def without_archive_credentials(self) -> Settings:
        """These settings with the archive realm and internal secrets removed (for the public portal)."""
        return self.model_copy(update={"store": WITHHELD, "token_secret": None, "oidc_client_secret": None})

    @property
    def resolved_staging_dir(self) -> Path:
        """Where uploads and unpacked deposits wait: the configured folder, or one in the data dir."""
        return (self.staging_dir or self.data_dir / "staging").resolve()

    @property
    def resolved_copies_dir(self) -> Path:
        """Where copies and renditions are prepared and kept: configured, or in the data dir."""
        return (self.copies_dir or self.data_dir / "copies").resolve()

    @property
    def store_url(self) -> str:
        """The archive realm: the configured store, or the FileStore in the data dir."""
        return self.store or f"file://{self.data_dir.resolve() / 'objects'}"
