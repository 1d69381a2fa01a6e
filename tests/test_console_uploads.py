"""Uploaded lists: private files, owned, kept only for the configured time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.errors import InputError
from gateway.web.uploads import UploadStore, safe_name


def test_uploads_are_private_and_deleted_after_the_retention_time(tmp_path: Path) -> None:
    store = UploadStore(tmp_path / "up", timedelta(hours=24))
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    first = store.save("%E5%90%8D%E5%8D%95.xlsx", b"one", owner=7, now=t0)
    assert first.path.name == "名单.xlsx" and first.path.read_bytes() == b"one"
    assert (tmp_path / "up").stat().st_mode & 0o777 == 0o700
    assert first.path.parent.stat().st_mode & 0o777 == 0o700
    assert first.path.stat().st_mode & 0o777 == 0o600
    found = store.get(first.token)
    assert found is not None and found.owner == 7 and found.path == first.path
    assert store.get("../../etc") is None and store.get("x") is None
    # a later upload inside the retention time keeps the first; one after it deletes it
    store.save("b.csv", b"two", owner=7, now=t0 + timedelta(hours=23))
    assert store.get(first.token) is not None
    later = store.save("c.csv", b"three", owner=8, now=t0 + timedelta(hours=24, seconds=1))
    assert store.get(first.token) is None and not first.path.exists()
    assert store.get(later.token) is not None
    assert store.purge(t0 + timedelta(days=3)) == 2


@pytest.mark.parametrize("name", ["list.exe", "list", "../../x.sh"])
def test_only_spreadsheets_are_accepted(name: str) -> None:
    with pytest.raises(InputError):
        safe_name(name)


def test_names_are_kept_readable_but_harmless() -> None:
    assert safe_name("..\\..\\化工 2301/名单(终).XLSX") == "名单(终).xlsx"
    assert safe_name("a;rm -rf$.csv") == "a_rm -rf_.csv"
