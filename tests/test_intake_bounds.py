"""Bounded intake: a file over the row limit or an .xlsx that unpacks too large is refused
quickly with a clear message; a terminal lists the first problems and counts the rest."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gateway.cli.main import app
from gateway.intake import IntakeFileError
from tests.intake_support import DATA, check, csv_bytes, make_id, student, write_xlsx

runner = CliRunner()


def _rows(n: int) -> list[list[Any]]:
    return [student(name=f"学生{i}", id_number=make_id(seq=i % 1000)) for i in range(n)]


def test_more_rows_than_the_limit_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "名单.csv"
    path.write_bytes(csv_bytes(_rows(30), "utf-8"))
    assert len(check(path, max_rows=30).rows) == 30
    with pytest.raises(IntakeFileError) as caught:
        check(path, max_rows=20)
    assert caught.value.code == "too_many_rows"
    assert "more than 20 rows" in caught.value.message_en and "intake_max_rows" in str(caught.value)


def test_an_xlsx_that_unpacks_too_large_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "名单.xlsx", _rows(3))
    # a sheet "formatted down to the last row": 40 MB of XML that zips to a few kilobytes
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet9.xml", b"<row/>" * 7_000_000)
    assert path.stat().st_size < 1_000_000
    started = time.monotonic()
    with pytest.raises(IntakeFileError) as caught:
        check(path, max_sheet_bytes=32 * 1024 * 1024)
    assert time.monotonic() - started < 1.0
    assert caught.value.code == "too_large" and "more than 32 MB" in caught.value.message_en
    assert len(check(path, max_sheet_bytes=64 * 1024 * 1024).rows) == 3


def test_the_limits_come_from_settings_and_exit_2(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "xgate.toml"
    config.write_text(
        f'catalogue_file = "{DATA / "catalogue.toml"}"\nintake_max_rows = 5\n', encoding="utf-8"
    )
    path = tmp_path / "名单.csv"
    path.write_bytes(csv_bytes(_rows(6), "utf-8"))
    result = runner.invoke(app, ["--config", str(config), "check", str(path)])
    assert result.exit_code == 2
    assert "more than 5 rows" in " ".join(result.stderr.split())


def test_a_terminal_lists_the_first_problems_and_counts_the_rest(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "xgate.toml"
    config.write_text(f'catalogue_file = "{DATA / "catalogue.toml"}"\n', encoding="utf-8")
    bad = [student(name=f"学生{i}", id_number="12345") for i in range(60)]
    path = tmp_path / "名单.csv"
    path.write_bytes(csv_bytes(bad, "utf-8"))
    result = runner.invoke(app, ["--config", str(config), "check", str(path)])
    assert result.exit_code == 1
    assert "... and 10 more problems" in result.stdout
    assert "row 51," in result.stdout and "row 52," not in result.stdout
    full = runner.invoke(app, ["--config", str(config), "check", str(path), "--json"])
    assert full.stdout.count('"code"') >= 60


def test_a_csv_over_the_limit_is_refused_before_any_row_is_validated(
    tmp_path: Path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from gateway.intake import validate

    path = tmp_path / "名单.csv"
    path.write_bytes(csv_bytes(_rows(30), "utf-8"))
    validated: list[int] = []
    real = validate.RowValidator.validate

    def counting(self: Any, row: Any) -> Any:
        validated.append(row.number)
        return real(self, row)

    monkeypatch.setattr(validate.RowValidator, "validate", counting)
    with pytest.raises(IntakeFileError, match="more than 20 rows"):
        check(path, max_rows=20)
    assert validated == []
