"""Configuration of one Beifang organization section in ``xgate.toml``.

The core validates ``[organizations.NAME]`` with this model (its keys beyond ``plugin``,
``enabled`` and ``http``), so a typo or a missing secret is reported at start-up naming the key,
not at the first request.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class BeifangSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(pattern=r"^https?://\S+$", description="API root, without /v1")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    webhook_secret: SecretStr | None = Field(
        None, description="shared secret of webhook signatures; webhooks are refused without it"
    )
    page_size: int = Field(200, ge=1, le=500, description="records per stream page")
    webhook_tolerance: float = Field(
        300.0, gt=0, description="seconds a webhook signature stays valid (replay window)"
    )
