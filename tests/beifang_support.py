"""The ``organizations`` section for one Beifang simulator, as the tests configure it."""

from __future__ import annotations

from typing import Any

from xgate_simulators.beifang import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


def beifang_orgs(url: str, **plugin: Any) -> dict[str, dict[str, Any]]:
    """One organization named ``beifang`` on the simulator at ``url`` with its default
    credentials; ``plugin`` adds or overrides keys (``page_size``, ``webhook_secret``)."""
    return {
        "beifang": {
            "plugin": "beifang",
            "base_url": url,
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            **plugin,
        }
    }
