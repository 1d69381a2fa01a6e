"""Uploaded candidate lists: kept 0600 in a 0700 folder, owned by one user, deleted after a while.

Each upload gets a random token (its folder name) and keeps the original file name, so the
results workbook is written beside it exactly as ``xgate submit`` writes it beside the file it
was given, and the ``submissions`` audit row names the file staff uploaded. Everything older
than ``console.upload_keep_hours`` is deleted whenever a list is uploaded or the console starts.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

from gateway.errors import InputError
from gateway.intake.results import results_path

SUFFIXES = (".xlsx", ".csv")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_UNSAFE = re.compile(r"[^\w.\-() （）]")


@dataclass(frozen=True)
class Upload:
    token: str
    path: Path
    owner: int
    created: datetime

    def results(self, organization: str | None) -> Path | None:
        """The results workbook of a submission to ``organization`` (the newest of any when
        None), or None when there is none yet."""
        if organization:
            found = results_path(self.path, organization)
            return found if found.exists() else None
        written = sorted(self.path.parent.glob("*.results.xlsx"), key=lambda p: p.stat().st_mtime)
        return written[-1] if written else None


def safe_name(name: str) -> str:
    name = unquote(name)  # some clients percent-encode non-ASCII file names
    base = Path(name.replace("\\", "/")).name.strip() or "list.xlsx"
    stem, suffix = os.path.splitext(base)
    if suffix.lower() not in SUFFIXES:
        raise InputError("only .xlsx and .csv files can be uploaded / 只能上传 .xlsx 或 .csv 文件")
    return (_UNSAFE.sub("_", stem)[:80] or "list") + suffix.lower()


class UploadStore:
    def __init__(self, root: Path, keep: timedelta) -> None:
        self.root = root
        self.keep = keep

    def _ensure_root(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def save(self, name: str, data: bytes, owner: int, now: datetime) -> Upload:
        file_name = safe_name(name)
        self._ensure_root()
        self.purge(now)
        token = secrets.token_urlsafe(18)
        folder = self.root / token
        folder.mkdir(mode=0o700)
        path = folder / file_name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        meta = {"name": file_name, "owner": owner, "created": now.isoformat()}
        fd = os.open(folder / "upload.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(meta, fh)
        return Upload(token, path, owner, now)

    def get(self, token: str) -> Upload | None:
        if not _TOKEN.match(token):
            return None
        meta_path = self.root / token / "upload.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return Upload(
            token,
            self.root / token / meta["name"],
            int(meta["owner"]),
            datetime.fromisoformat(meta["created"]),
        )

    def purge(self, now: datetime) -> int:
        """Delete uploads (and their results) older than the retention time."""
        if not self.root.is_dir():
            return 0
        gone = 0
        for folder in self.root.iterdir():
            upload = self.get(folder.name) if folder.is_dir() else None
            if upload is None or now - upload.created > self.keep:
                shutil.rmtree(folder, ignore_errors=True)
                gone += 1
        return gone
