"""Settings: ``xgate.toml`` (or ``--config``) plus ``XGATE_`` environment variables.

The core owns the shape of everything except each organization's plugin-specific keys, which
the plugin's own ``settings_model`` validates. Environment variables override the file, with
``__`` between levels: ``XGATE_ORGANIZATIONS__BEIFANG__CLIENT_SECRET``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from gateway.errors import ConfigurationError

DEFAULT_CONFIG = "xgate.toml"
SECRET_HINTS = ("secret", "password", "token", "key", "salt")


class HttpPolicy(BaseModel):
    """Per-organization resilience knobs for the core's HTTP layer."""

    model_config = ConfigDict(extra="forbid")
    timeout: float = Field(10.0, gt=0, description="read/write timeout per request, seconds")
    connect_timeout: float = Field(5.0, gt=0)
    attempts: int = Field(5, ge=1, le=20)
    total_budget: float = Field(120.0, gt=0, description="give up retrying after this long")
    wait_base: float = Field(0.5, ge=0)
    wait_max: float = Field(30.0, ge=0)
    retry_500: bool = False
    max_concurrency: int = Field(4, ge=1, le=256)
    rate_per_second: float | None = Field(None, gt=0)
    breaker_threshold: int = Field(5, ge=1)
    breaker_cooldown: float = Field(60.0, ge=0)


class OrganizationSettings(BaseModel):
    """One ``[organizations.NAME]`` section. Keys beyond these belong to the plugin."""

    model_config = ConfigDict(extra="allow")
    plugin: str
    enabled: bool = True
    http: HttpPolicy = HttpPolicy()

    def plugin_values(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ReportEmail(BaseModel):
    """``[report.email]``: where ``xgate report weekly --email`` sends the workbook (SMTP)."""

    model_config = ConfigDict(extra="forbid")
    host: str
    port: int = Field(465, ge=1, le=65535)
    use_tls: bool = Field(True, description="implicit TLS (port 465); false with starttls")
    start_tls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    recipients: list[str] = Field(min_length=1)
    timeout: float = Field(30.0, gt=0)


class ReportSettings(BaseModel):
    """``[report]``: the college named on report cover sheets, and optional e-mail."""

    model_config = ConfigDict(extra="forbid")
    college: str = Field("", description="college name on report cover sheets")
    email: ReportEmail | None = None


class ConsoleSettings(BaseModel):
    """The staff web console served by ``xgate serve`` (``[console]``)."""

    model_config = ConfigDict(extra="forbid")
    idle_minutes: float = Field(30, gt=0, description="sign out after this long without a request")
    lifetime_hours: float = Field(12, gt=0, description="sign out this long after signing in")
    upload_max_mb: float = Field(10, gt=0, description="largest candidate list accepted")
    upload_dir: Path = Field(Path("xgate-uploads"), description="uploads and results (0700)")
    upload_keep_hours: float = Field(
        24, gt=0, description="uploaded lists and results are deleted after this long"
    )
    secure_cookies: bool = Field(
        False, description="mark the session cookie Secure (set when served behind TLS)"
    )
    language: str = Field("zh", pattern="^(zh|en)$", description="default page language")


class SsoSettings(BaseModel):
    """Single sign-on for the console through the college's OpenID Connect provider (``[sso]``).

    Off while ``issuer`` is empty. Roles are never taken from the provider: a campus account
    signs in only as the local user linked to it (see docs/console.md, "Single sign-on").
    """

    model_config = ConfigDict(extra="forbid")
    protocol: str = Field("oidc", pattern="^(oidc|cas)$", description="oidc, or cas (CAS 3.0)")
    issuer: str = Field(
        "", description="OIDC: the issuer URL (as in its ID tokens); CAS: the server's base URL"
    )
    discovery_url: str = Field("", description="default: <issuer>/.well-known/openid-configuration")
    client_id: str = ""
    client_secret: SecretStr | None = None
    redirect_url: str = Field(
        "", description="this console's callback, e.g. https://xgate.example/login/sso/callback"
    )
    claim: str = Field(
        "preferred_username",
        description="the ID-token claim (CAS: ``user`` or an attribute) carrying the account",
    )
    scope: str = "openid profile"
    button_label: str = Field("统一身份认证登录", description="the sign-in page's button")
    timeout: float = Field(10.0, gt=0, description="seconds per call to the provider")

    @property
    def enabled(self) -> bool:
        if self.protocol == "cas":
            return bool(self.issuer and self.redirect_url)
        return bool(self.issuer and self.client_id and self.redirect_url)

    def discovery(self) -> str:
        return self.discovery_url or self.issuer.rstrip("/") + "/.well-known/openid-configuration"


class ScheduleSettings(BaseModel):
    """``[schedule]``: cron lines run by the job engine's periodic tasks (``xgate worker``).

    Empty means "not scheduled". Times are the worker's clock (UTC in the shipped images).
    """

    model_config = ConfigDict(extra="forbid")
    sync: str = Field("0 2 * * *", description="nightly: deliver, sync every stream, issue")
    reconcile: str = Field("*/30 * * * *", description="settle unknown registrations")
    weekly_report: str = Field("0 7 * * MON", description="the weekly report")
    prune_jobs: str = Field("30 3 * * *", description="delete finished jobs past keep_days")

    @field_validator("sync", "reconcile", "weekly_report", "prune_jobs")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter  # type: ignore[import-untyped]  # procrastinate's parser

        if value and not croniter.is_valid(value):
            raise ValueError(f'not a cron line: {value!r} (e.g. "0 2 * * *"; empty: off)')
        return value


class WorkerSettings(BaseModel):
    """``[worker]``: how ``xgate worker`` runs jobs (PostgreSQL only)."""

    model_config = ConfigDict(extra="forbid")
    concurrency: int = Field(4, ge=1, le=256, description="jobs run at once per worker")
    heartbeat: float = Field(10.0, gt=0, description="seconds between worker heartbeats")
    stalled_after: float = Field(
        30.0, gt=0, description="a worker silent this long is dead: its jobs are requeued"
    )
    attempts: int = Field(3, ge=1, le=20, description="runs of a failing job before it fails")
    retry_wait: float = Field(60.0, ge=0, description="seconds before a failed job reruns")
    keep_days: float = Field(
        14, ge=0, description="succeeded and cancelled jobs are deleted after this (failed: kept)"
    )


class CredentialSettings(BaseModel):
    """``[credentials]``: how the college signs and publishes Open Badges credentials."""

    model_config = ConfigDict(extra="forbid")
    public_url: str = Field(
        "http://127.0.0.1:8080",
        description="where `xgate serve` is reachable from outside (scheme and host[:port], "
        "no path): the issuer's did:web and the status list live there",
    )
    issuer_name: str = Field("xgate college", description="the college's name in credentials")
    validity_years: int | None = Field(
        None, ge=1, description="credentials expire after this many years (default: never)"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="XGATE_",
        env_nested_delimiter="__",
        extra="forbid",
        toml_file=DEFAULT_CONFIG,
    )

    database_url: str = Field("sqlite+aiosqlite:///xgate.db", description="SQLAlchemy async URL")
    database_schema: str | None = Field(
        None, description="PostgreSQL schema to use (default: the server's search_path)"
    )
    webhook_max_body: int = Field(
        1024 * 1024, ge=1024, description="largest webhook body accepted, bytes (413 beyond)"
    )
    webhook_concurrency: int = Field(
        16, ge=1, le=1024, description="webhook deliveries read at once (503 beyond)"
    )
    keys_file: Path | None = Field(
        None, description="the key file (default: XGATE_KEYS, else xgate.keys here)"
    )
    organizations: dict[str, OrganizationSettings] = Field(default_factory=dict)
    sync_concurrency: int = Field(4, ge=1, le=64)
    sync_reader: Literal["inline", "process"] = Field(
        "inline",
        description="where a sync reads organizations' pages: in the gateway's process, or in "
        "a process per organization (gateway.reader_process; Linux only, elsewhere inline; "
        "uses a second core)",
    )
    rules_file: Path | None = None
    catalogue_file: Path | None = None
    fees_file: Path | None = None
    eligibility_file: Path | None = None
    intake_max_rows: int = Field(
        100_000, ge=1, description="candidate files with more data rows are refused"
    )
    intake_max_sheet_mb: int = Field(
        256, ge=1, description="an .xlsx whose sheets unpack to more MB is refused unread"
    )
    log_level: str = "WARNING"
    report: ReportSettings = Field(default_factory=ReportSettings)
    console: ConsoleSettings = ConsoleSettings()
    sso: SsoSettings = SsoSettings()
    schedule: ScheduleSettings = ScheduleSettings()
    worker: WorkerSettings = WorkerSettings()
    credentials: CredentialSettings = Field(default_factory=CredentialSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_path = os.environ.get("XGATE_CONFIG") or DEFAULT_CONFIG
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)),
        )


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Read settings; every problem becomes a ``ConfigurationError`` naming the key."""
    old = os.environ.get("XGATE_CONFIG")
    if config is None and old and not Path(old).exists():
        # a typo in a cron job's environment must not run with defaults and report success
        raise ConfigurationError(f"XGATE_CONFIG names {old}, which does not exist")
    if config is not None:
        if not config.exists():
            raise ConfigurationError(f"configuration file {config} does not exist")
        os.environ["XGATE_CONFIG"] = str(config)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc, "settings")) from None
    except (OSError, ValueError) as exc:  # TOML syntax errors are ValueErrors
        raise ConfigurationError(f"cannot read configuration: {exc}") from None
    finally:
        if config is not None:
            if old is None:
                os.environ.pop("XGATE_CONFIG", None)
            else:
                os.environ["XGATE_CONFIG"] = old


def _describe(exc: ValidationError, prefix: str) -> str:
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"])
        lines.append(f"{prefix}.{where}: {err['msg']}" if where else f"{prefix}: {err['msg']}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def plugin_settings(name: str, org: OrganizationSettings, model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(org.plugin_values())
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc, f"organizations.{name}")) from None


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, SecretStr):
        return "********" if value.get_secret_value() else ""
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value]
    if isinstance(value, str) and any(h in key.lower() for h in SECRET_HINTS) and value:
        return "********"
    if "://" in str(value) and "@" in str(value):  # credentials inside a URL
        scheme, rest = str(value).split("://", 1)
        return f"{scheme}://********@{rest.split('@', 1)[1]}"
    if isinstance(value, Path):
        return str(value)
    return value


def masked_settings(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, with every secret replaced."""
    data = settings.model_dump(mode="python")
    for name, org in settings.organizations.items():
        data["organizations"][name] = {**org.model_dump(mode="python"), **org.plugin_values()}
    masked: dict[str, Any] = _mask(data)
    return masked


def secret_values(settings: Settings) -> list[str]:
    """Every secret string in the settings, for the log masking filter."""
    found: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, str) and any(h in key.lower() for h in SECRET_HINTS):
            found.append(value)

    for org in settings.organizations.values():
        walk(org.plugin_values())
    if settings.sso.client_secret:
        found.append(settings.sso.client_secret.get_secret_value())
    if settings.report.email and settings.report.email.password:
        found.append(settings.report.email.password.get_secret_value())
    return [s for s in found if s]
