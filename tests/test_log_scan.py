"""The suite-wide log scan (tests/conftest.py) really catches an unmasked ID."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import _UNMASKED_ID, _ScanHandler


def test_masking_factory_masks_every_logger() -> None:
    from gateway.masking import install_masking

    install_masking()
    scan = _ScanHandler()
    log = logging.getLogger("some.thirdparty.lib")
    log.addHandler(scan)
    log.setLevel(logging.INFO)
    try:
        log.info("candidate %s mobile %s", "11010519491231002X", "13912345678")
        try:
            raise ValueError("bad id 11010519491231002X")
        except ValueError:
            log.exception("failed")
    finally:
        log.removeHandler(scan)
    text = "\n".join(scan.lines)
    assert "110105********002X" in text and "139****5678" in text
    assert not _UNMASKED_ID.search(text)


def test_scanner_detects_an_unmasked_id_when_masking_is_off() -> None:
    scan = _ScanHandler()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "id 11010519491231002X", None, None)
    scan.emit(record)  # a record built without the masking factory
    assert _UNMASKED_ID.search(scan.lines[0])


@pytest.mark.parametrize(
    ("raw", "hidden"),
    [
        ("110105 19491231 002X", "19491231"),
        ("１１０１０５１９４９１２３１００２Ｘ", "19491231"),
        ("legacy 110105491231002", "491231"),
        ("tel 8613912345678", "1234"),
        ("tel +86 139 1234 5678", "1234"),
        ("tel 139-1234-5678", "1234"),
    ],
)
def test_masking_covers_the_ways_people_write_numbers(raw: str, hidden: str) -> None:
    from gateway.masking import mask_text

    assert hidden not in mask_text(raw)


def test_masking_leaves_ordinary_numbers_alone() -> None:
    from gateway.masking import mask_text

    assert mask_text("timestamp 1795812520337, run 20261127") == (
        "timestamp 1795812520337, run 20261127"
    )
