"""The built-in plugins pass the conformance kit against their reference simulators, exactly as
a third-party plugin must (their sandboxes: tests/kit_fixtures/builtin.py)."""

from __future__ import annotations

import pytest
from xgate_beifang.plugin import SPEC as BEIFANG
from xgate_liaohe.plugin import SPEC as LIAOHE

from gateway.contract import OrganizationSpec
from gateway.testing import OrganizationConformance
from tests.kit_fixtures.builtin import BeifangSandbox, LiaoheCurrentSandbox, LiaoheSandbox


class TestBeifang(OrganizationConformance):
    @pytest.fixture
    def spec(self) -> OrganizationSpec:
        return BEIFANG

    @pytest.fixture
    def sandbox(self) -> BeifangSandbox:
        return BeifangSandbox()


class TestLiaohe(OrganizationConformance):
    @pytest.fixture
    def spec(self) -> OrganizationSpec:
        return LIAOHE

    @pytest.fixture
    def sandbox(self) -> LiaoheSandbox:
        return LiaoheSandbox()


class TestLiaoheCurrentCertificates(OrganizationConformance):
    """The same plugin reading a list of current certificates as a snapshot."""

    @pytest.fixture
    def spec(self) -> OrganizationSpec:
        return LIAOHE

    @pytest.fixture
    def sandbox(self) -> LiaoheCurrentSandbox:
        return LiaoheCurrentSandbox()
