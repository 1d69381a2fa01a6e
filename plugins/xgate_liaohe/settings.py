"""The ``[organizations.NAME]`` keys of a Liaohe organization, validated by the core."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class LiaoheSettings(BaseModel):
    """Credentials and protocol knobs. Retries, timeouts and limits are the core's
    (``[organizations.NAME.http]``), not these."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="the platform's address, e.g. https://x.liaohe.example")
    app_key: str = Field(min_length=1, description="the app key the platform issued")
    app_secret: SecretStr = Field(description="the signing secret that goes with app_key")
    sign_method: Literal["hmac-sha256", "md5"] = Field(
        "hmac-sha256", description="how requests are signed; MD5 only for old accounts"
    )
    page_size: int = Field(100, ge=1, le=500, description="rows per listing page")
    poll_interval: float = Field(2.0, ge=0, description="seconds between upload job polls")
    poll_timeout: float = Field(
        600.0, gt=0, description="stop polling an upload job after this long (outcome unknown)"
    )
    upload_format: Literal["csv", "xlsx"] = Field(
        "csv", description="registration file format: GB18030 CSV or XLSX"
    )
    certificate_listing: Literal["changes", "current"] = Field(
        "changes",
        description="what the certificate list shows: every certificate with its status "
        '("changes"), or only those in force ("current": a withdrawn one just disappears, so '
        "every run reads the whole list and the core withdraws what is missing)",
    )
    overlap: int = Field(
        5,
        ge=2,
        le=1000,
        description="rows re-read at every resume, so rows the platform lists slightly out of "
        "order are never skipped",
    )
