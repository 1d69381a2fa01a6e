"""The keys of an ``[organizations.NAME]`` section served by this plugin.

xgate validates the section with this model at start-up and reports a mistake as
``organizations.NAME.KEY: message``, so: one typed field per key, unknown keys refused (a typo
would otherwise be ignored silently) and secrets as ``SecretStr`` (never printed).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ExampleOrgSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(pattern=r"^https?://\S+$", description="API root, without /v2")
    api_key: SecretStr = Field(description="the key Example Org issued to the college")
    page_size: int = Field(100, ge=1, le=500, description="records per stream page")
