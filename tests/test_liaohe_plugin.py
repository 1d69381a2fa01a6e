"""The Liaohe plugin as the core finds it (entry point), and the simulator as a command."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from xgate_liaohe.adapter import LiaoheAdapter
from xgate_liaohe.settings import LiaoheSettings
from xgate_simulators.liaohe import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, LiaoheSimulator

from gateway import Capability
from gateway.contract import missing_methods
from gateway.errors import ConfigurationError
from gateway.plugins import load_plugins
from gateway.settings import OrganizationSettings, plugin_settings
from tests.test_liaohe_adapter import PLC1, make_adapter, people, requests_for


def test_the_entry_point_provides_the_liaohe_organization() -> None:
    host = load_plugins()
    assert not [e for e in host.errors if "liaohe" in str(e)]
    loaded = host.spec("liaohe")
    assert loaded.plugin == "liaohe" and loaded.distribution and "xgate" in loaded.distribution
    spec = loaded.spec
    assert spec.capabilities == {
        Capability.REGISTER,
        Capability.SCORES,
        Capability.CERTIFICATES,
        Capability.VERIFY,
    }
    assert spec.factory is LiaoheAdapter and spec.settings_model is LiaoheSettings
    assert spec.repeatable == {"upload_registrations"}


async def test_the_adapter_implements_what_it_declares() -> None:
    sim = LiaoheSimulator()
    async with sim.running():
        adapter = make_adapter(sim)
        assert missing_methods(adapter, load_plugins().spec("liaohe").spec.capabilities) == []
        await adapter.context.http.aclose()


def test_settings_refuse_misspelt_keys_and_mask_the_secret() -> None:
    section = OrganizationSettings.model_validate(
        {"plugin": "liaohe", "base_url": "http://x", "app_key": "k", "app_secret": "s3cret!"}
    )
    settings = plugin_settings("lh", section, LiaoheSettings)
    assert isinstance(settings, LiaoheSettings)
    assert "s3cret!" not in repr(settings) and settings.sign_method == "hmac-sha256"
    wrong = OrganizationSettings.model_validate(
        {"plugin": "liaohe", "base_url": "http://x", "app_key": "k", "app_secert": "s"}
    )
    with pytest.raises(ConfigurationError, match=r"organizations\.lh\.app_secert"):
        plugin_settings("lh", wrong, LiaoheSettings)


async def test_the_simulator_runs_as_a_command() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "xgate_simulators.liaohe", "--port", "0", "--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = (await asyncio.to_thread(process.stdout.readline)).strip()
        assert url.startswith("http://127.0.0.1:")
        remote = LiaoheSimulator()
        remote.url = url  # the adapter only needs its address and credentials
        assert (remote.app_key, remote.app_secret) == (DEFAULT_APP_KEY, DEFAULT_APP_SECRET)
        adapter = make_adapter(remote)
        [request] = requests_for(PLC1, people(1))
        assert await adapter.lookup_registration(PLC1, request) is None
        [outcome] = await adapter.register(PLC1, [request])
        assert outcome.org_registration_id == "LHR000001"
        await adapter.context.http.aclose()
    finally:
        process.terminate()
        process.wait(timeout=10)
