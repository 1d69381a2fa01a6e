"""Reading candidate files: ``.xlsx`` and ``.csv``, streamed, with the header row found.

Files come from Excel and from other systems' exports, so this module decides the format by
content (not just the name), decodes CSV only when the encoding is certain (a wrong guess
would silently corrupt names), and finds the header row below any title rows. Rows are
streamed (openpyxl read-only mode, ``csv`` over a text stream), so a 50,000-row file costs
little more memory than a 50-row one; ``CandidateFile.rows()`` can be iterated again (the
results workbook re-reads the file rather than keeping it in memory).
"""

from __future__ import annotations

import codecs
import csv
import itertools
import re
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from xml.etree.ElementTree import ParseError

from gateway.intake.headers import is_known_header, match_header
from gateway.intake.problems import IntakeFileError

#: How many rows from the top may hold titles before the header row.
SCAN_ROWS = 10
#: The encodings tried for CSV, in order (named in the message when none fits).
CSV_ENCODINGS = ("UTF-8", "UTF-8 with BOM (utf-8-sig)", "GB18030 (covers GBK/CP936)")

_ZIP = b"PK\x03\x04"
_OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")
_TEXT_SUFFIXES = {".csv", ".txt", ".tsv", ""}
_XLSX_SUFFIXES = {".xlsx", ".xlsm", ".xltx", ".xltm"}
_HIGH = bytes(range(128, 256))
_UTF8_SEQ = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_GARBLED = ("锟斤拷", "\ufffd")
_PUA = re.compile("[\ue000-\uf8ff]")
_LATIN1_MOJIBAKE = re.compile(r"[\u00c0-\u00ff]")
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Layout:
    """Where the header is and which column holds which field."""

    header_row: int
    headers: tuple[str, ...]
    columns: dict[str, int]
    ignored: tuple[str, ...] = ()
    repeated: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceRow:
    """One data row as it is in the file (values untouched; ``number`` as Excel shows it)."""

    number: int
    values: tuple[Any, ...]

    def get(self, index: int | None) -> Any:
        if index is None or index >= len(self.values):
            return None
        return self.values[index]


@dataclass
class CandidateFile:
    """An opened candidate file: its format, encoding, sheet and column layout."""

    path: Path
    kind: str  # "xlsx" or "csv"
    layout: Layout
    encoding: str | None = None
    delimiter: str = ","
    sheet: str | None = None
    sheet_index: int = 0
    _opened: _Workbook | None = field(default=None, repr=False)

    def raw_rows(self) -> Iterator[tuple[int, tuple[Any, ...]]]:
        if self.kind == "xlsx":
            opened, self._opened = self._opened, None  # the first pass reuses the open book
            return _xlsx_rows(self.path, self.sheet_index, opened)
        return _csv_rows(self.path, self.encoding or "utf-8", self.delimiter)

    def close(self) -> None:
        """Release the workbook kept open after the header scan (if no pass used it)."""
        if self._opened is not None:
            self._opened.close()
            self._opened = None

    def __enter__(self) -> CandidateFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def rows(self) -> Iterator[SourceRow]:
        """Data rows below the header, blank rows skipped; streams the file each time."""
        for number, values in self.raw_rows():
            if number <= self.layout.header_row or _blank(values):
                continue
            yield SourceRow(number, values)

    def column(self, name: str) -> int | None:
        return self.layout.columns.get(name)

    def more_rows_than(self, limit: int) -> bool:
        """Whether the file has more than ``limit`` data rows, counted without validating
        anything (a CSV pass costs about a second per million rows) and stopping at the first
        row over. An .xlsx is not pre-counted (parsing is the expensive part; its unpacked
        size is bounded instead, and the check stops at the limit as it goes)."""
        if self.kind != "csv":
            return False
        return next(itertools.islice(self.rows(), limit, None), None) is not None


def _blank(values: tuple[Any, ...]) -> bool:
    for v in values:
        if v is None:
            continue
        if isinstance(v, str) and not v.strip():  # str.strip knows U+3000 and NBSP too
            continue
        return False
    return True


def open_candidate_file(path: Path, *, max_sheet_bytes: int | None = None) -> CandidateFile:
    """Open a candidate file and find its header row; whole-file problems raise
    ``IntakeFileError`` (exit code 2). An .xlsx whose parts unpack to more than
    ``max_sheet_bytes`` (as the archive declares them) is refused before any XML is parsed."""
    name = path.name
    if not path.is_file():
        raise IntakeFileError("file_missing", file=name)
    with path.open("rb") as fh:
        head = fh.read(8)
    if not head:
        raise IntakeFileError("file_empty", file=name)
    suffix = path.suffix.lower()
    if head.startswith(_ZIP):
        if max_sheet_bytes is not None:
            _check_unpacked_size(path, max_sheet_bytes)
        return _open_xlsx(path)
    if head.startswith(b"PK"):
        raise IntakeFileError("xlsx_damaged", file=name, detail="not a complete zip archive")
    if head.startswith(_OLE2):
        raise IntakeFileError("xls_legacy", file=name)
    if suffix in _XLSX_SUFFIXES or suffix not in _TEXT_SUFFIXES:
        raise IntakeFileError("not_spreadsheet", file=name)
    return _open_csv(path)


def spreadsheet_rows(
    path: Path, *, max_sheet_bytes: int | None = None
) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """Every row of a staff spreadsheet that is not a candidate list (course credits, training
    records), numbered as Excel numbers them, streamed: the same format decision, encodings,
    delimiter sniffing, size bound and error messages as candidate files, without the
    candidate header scan (the caller finds its own header)."""
    name = path.name
    if not path.is_file():
        raise IntakeFileError("file_missing", file=name)
    with path.open("rb") as fh:
        head = fh.read(8)
    if not head:
        raise IntakeFileError("file_empty", file=name)
    if head.startswith(_ZIP):
        if max_sheet_bytes is not None:
            _check_unpacked_size(path, max_sheet_bytes)
        return _xlsx_rows(path, 0)
    if head.startswith(_OLE2):
        raise IntakeFileError("xls_legacy", file=name)
    if path.suffix.lower() in _XLSX_SUFFIXES or path.suffix.lower() not in _TEXT_SUFFIXES:
        raise IntakeFileError("not_spreadsheet", file=name)
    encoding = detect_encoding(path)
    with path.open("r", encoding=encoding, newline="") as fh:
        first = next((line for line in fh if line.strip()), "")
    return _csv_rows(path, encoding, _sniff_delimiter(first))


# --- xlsx -----------------------------------------------------------------------------------

_XLSX_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    KeyError,
    ParseError,
    OSError,
    ValueError,
    TypeError,
    IndexError,
)


def _xlsx_errors() -> tuple[type[BaseException], ...]:
    from openpyxl.utils.exceptions import InvalidFileException

    return (*_XLSX_ERRORS, InvalidFileException)


def _load(fh: IO[bytes]) -> Any:
    from openpyxl import load_workbook

    # A file object, not a path: openpyxl refuses paths by extension, and we decide by content.
    return load_workbook(fh, read_only=True, data_only=True)


def _xlsx_error(path: Path, exc: BaseException) -> IntakeFileError:
    detail = f"{type(exc).__name__}: {exc}"[:200]
    return IntakeFileError("xlsx_damaged", file=path.name, detail=detail)


class _Workbook:
    """A read-only workbook, kept open from the header scan to the end of the first full
    pass: opening one costs a pass over each sheet's XML, so it is done once, not thrice."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fh = path.open("rb")
        try:
            self.wb = _load(self.fh)
        except BaseException:
            self.fh.close()
            raise

    def rows(self, sheet_index: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
        ws = self.wb.worksheets[sheet_index]
        # Some exporters write a wrong <dimension>; without this openpyxl would cut rows
        # short to the columns it claims.
        ws.reset_dimensions()
        return enumerate(ws.iter_rows(values_only=True), start=1)

    def close(self) -> None:
        try:
            self.wb.close()
        finally:
            self.fh.close()


def _xlsx_rows(
    path: Path, sheet_index: int, opened: _Workbook | None = None
) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """Stream a sheet's rows (numbered as Excel numbers them); a damaged archive becomes an
    ``IntakeFileError`` even when the damage only shows halfway through."""
    try:
        book = opened or _Workbook(path)
        try:
            yield from book.rows(sheet_index)
        finally:
            book.close()
    except _xlsx_errors() as exc:
        raise _xlsx_error(path, exc) from None


def _check_unpacked_size(path: Path, limit: int) -> None:
    """Refuse an archive whose declared uncompressed size is over ``limit``: a 12 MB .xlsx can
    unpack to gigabytes of sheet XML (a zip bomb, or a sheet formatted down to row 1,048,576).
    The declared sizes are binding: ``zipfile`` never yields more than an entry declares."""
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _xlsx_error(path, exc) from None
    if size > limit:
        mb = 1024 * 1024
        raise IntakeFileError(
            "too_large", file=path.name, size_mb=f"{size / mb:,.0f}", limit_mb=f"{limit / mb:,.0f}"
        )


def _open_xlsx(path: Path) -> CandidateFile:
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = _Workbook(path)
        titles = [ws.title for ws in book.wb.worksheets]
    except _xlsx_errors() as exc:
        if isinstance(exc, KeyError | InvalidFileException):  # a zip, but not a workbook
            raise IntakeFileError("not_spreadsheet", file=path.name) from None
        raise _xlsx_error(path, exc) from None
    content = keep = False
    try:
        for index, title in enumerate(titles):
            try:
                top = _first_rows(book.rows(index))
            except _xlsx_errors() as exc:
                raise _xlsx_error(path, exc) from None
            layout = find_header(top)
            if layout is not None:
                keep = True
                return CandidateFile(
                    path, "xlsx", layout, sheet=title, sheet_index=index, _opened=book
                )
            content = content or any(not _blank(values) for _, values in top)
    finally:
        if not keep:
            book.close()
    if not content:
        raise IntakeFileError("file_empty", file=path.name)
    raise IntakeFileError("no_header", file=path.name, rows=SCAN_ROWS)


def _first_rows(
    rows: Iterator[tuple[int, tuple[Any, ...]]],
) -> list[tuple[int, tuple[Any, ...]]]:
    out = []
    for number, values in rows:
        out.append((number, values))
        if number >= SCAN_ROWS:
            break
    if hasattr(rows, "close"):
        rows.close()
    return out


def find_header(top: list[tuple[int, tuple[Any, ...]]]) -> Layout | None:
    """The row (among the first ``SCAN_ROWS``) with the most recognised headers.

    A merged title row has one cell of text; the header row has several recognised names.
    At least two recognised headers are needed, so a title that happens to say "姓名" alone
    is not mistaken for the header.
    """
    best_row, best_score = 0, 1
    for number, values in top:
        score = sum(1 for v in values if is_known_header(v))
        if score > best_score:
            best_row, best_score = number, score
    if not best_row:
        return None
    values = dict(top)[best_row]
    headers = tuple(
        "" if v is None else unicodedata.normalize("NFKC", str(v)).strip() for v in values
    )
    columns: dict[str, int] = {}
    ignored, repeated = [], []
    for index, text in enumerate(headers):
        if not text:
            continue
        name = match_header(text)
        if name is None:
            if not is_known_header(text):
                ignored.append(text)
        elif name in columns:
            repeated.append(text)
        else:
            columns[name] = index
    return Layout(best_row, headers, columns, tuple(ignored), tuple(repeated))


# --- csv ------------------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """Decide a CSV file's encoding, or refuse: never a silent mis-decode.

    UTF-8 is tried first (strict: text in another encoding almost never passes), then
    GB18030 (what Chinese Excel's "CSV" really is; a superset of GBK/CP936). A file that is
    mostly valid UTF-8 with some invalid bytes is mixed or damaged, not GB18030, even when
    GB18030 happens to decode it; text that holds "锟斤拷" or U+FFFD was already damaged by an
    earlier conversion.
    """
    name = path.name
    with path.open("rb") as fh:
        head = fh.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _check_utf16(path)
    bom = head.startswith(codecs.BOM_UTF8)
    utf8_ok = gb_ok = True
    pua = False
    with path.open("rb") as fh:
        for index, line in enumerate(fh):
            if index == 0 and bom:
                line = line[3:]
            if b"\x00" in line:
                raise IntakeFileError("not_spreadsheet", file=name)
            if utf8_ok:
                try:
                    _damaged(line.decode("utf-8"), name)
                except UnicodeDecodeError:
                    utf8_ok = False
            if gb_ok:
                try:
                    text = line.decode("gb18030")
                except UnicodeDecodeError:
                    gb_ok = False
                else:
                    if not utf8_ok:
                        _damaged(text, name)
                    pua = pua or bool(_PUA.search(text))
            if not utf8_ok and not gb_ok:
                break
    tried = ", ".join(CSV_ENCODINGS)
    if utf8_ok:
        return "utf-8-sig" if bom else "utf-8"
    if bom:
        raise IntakeFileError(
            "encoding_undecidable",
            file=name,
            tried=tried,
            detail="; it starts with a UTF-8 BOM but holds bytes that are not UTF-8",
        )
    if _mostly_utf8(path):
        raise IntakeFileError(
            "encoding_undecidable",
            file=name,
            tried=tried,
            detail="; it is mostly UTF-8 but some bytes are not (mixed encodings or damage)",
        )
    if gb_ok and pua:
        raise IntakeFileError(
            "encoding_undecidable",
            file=name,
            tried=tried,
            detail="; as GB18030 it holds private-use characters, so it is probably not GB18030",
        )
    if gb_ok:
        return "gb18030"
    raise IntakeFileError("encoding_undecidable", file=name, tried=tried)


def _damaged(text: str, name: str) -> None:
    for sign in _GARBLED:
        if sign in text:
            shown = "U+FFFD" if sign == "\ufffd" else sign
            raise IntakeFileError("encoding_damaged", file=name, detail=shown)


def _check_utf16(path: Path) -> str:
    decoder = codecs.getincrementaldecoder("utf-16")(errors="strict")
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 16):
                _damaged(decoder.decode(chunk), path.name)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise IntakeFileError(
            "encoding_undecidable",
            file=path.name,
            tried="UTF-16",
            detail="; it starts with a UTF-16 mark but is not valid UTF-16",
        ) from None
    return "utf-16"


def _mostly_utf8(path: Path) -> bool:
    """True when nearly every non-ASCII byte belongs to a well-formed UTF-8 sequence."""
    high = covered = 0
    with path.open("rb") as fh:
        for line in fh:
            high += len(line) - len(line.translate(None, _HIGH))
            covered += sum(len(m) for m in _UTF8_SEQ.findall(line))
    return high > 0 and covered / high >= 0.9


def _sniff_delimiter(first: str) -> str:
    counts = {d: first.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


#: The longest CSV cell read (characters); a longer one makes the file unusable.
CSV_FIELD_LIMIT = 1 << 20


def _csv_rows(path: Path, encoding: str, delimiter: str) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """The CSV's records, numbered as Excel numbers them.

    The ``csv`` module's own errors become whole-file problems naming the line. A stray
    opening quote makes ``csv`` read everything up to the next quote (or the end of the file)
    as one cell, silently swallowing rows: a cell holding a line break together with the
    delimiter, or a cell holding the delimiters of the columns missing from its row, is
    reported as that (``csv_stray_quote``) instead.
    """
    csv.field_size_limit(CSV_FIELD_LIMIT)
    with path.open("r", encoding=encoding, newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        width = 0
        for number in itertools.count(1):
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise _csv_error(path, exc, number, line) from None
            if _swallowed(row, delimiter, width):
                raise IntakeFileError("csv_stray_quote", file=path.name, row=number, line=line)
            width = max(width, len(row))
            yield number, tuple(row)


def _swallowed(row: list[str], delimiter: str, width: int) -> bool:
    """Does this record look like a stray quote ate the rest of its line (or of the file)?"""
    for cell in row:
        if delimiter not in cell:
            continue
        if "\n" in cell or "\r" in cell:
            return True
        if width and len(row) + cell.count(delimiter) >= width > len(row):
            return True
    return False


def _csv_error(path: Path, exc: csv.Error, row: int, line: int) -> IntakeFileError:
    if "field larger than field limit" in str(exc):
        return IntakeFileError(
            "csv_cell_too_large", file=path.name, row=row, line=line, limit=f"{CSV_FIELD_LIMIT:,}"
        )
    return IntakeFileError("csv_unreadable", file=path.name, row=row, line=line, detail=str(exc))


def _open_csv(path: Path) -> CandidateFile:
    encoding = detect_encoding(path)
    with path.open("r", encoding=encoding, newline="") as fh:
        first = ""
        for line in fh:
            if line.strip():
                first = line
                break
    if not first:
        raise IntakeFileError("file_empty", file=path.name)
    delimiter = _sniff_delimiter(first)
    top = _first_rows(_csv_rows(path, encoding, delimiter))
    layout = find_header(top)
    if layout is None:
        sample = " ".join(str(v) for _, row in top for v in row)
        detail = ""
        if _LATIN1_MOJIBAKE.search(sample) and not _CJK.search(sample):
            detail = (
                f" (read as {encoding}; the text looks garbled, so the encoding is probably "
                "wrong: save it from Excel as “CSV UTF-8”)"
            )
        raise IntakeFileError("no_header", file=path.name, rows=SCAN_ROWS, detail=detail)
    return CandidateFile(path, "csv", layout, encoding=encoding, delimiter=delimiter)
