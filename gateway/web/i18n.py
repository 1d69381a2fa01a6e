"""Page labels in Simplified Chinese (the default) and English, from two plain catalogues.

``locale/zh.toml`` and ``locale/en.toml`` hold every label under the same keys; a test fails
when a key used by a template or a page module is missing from either, or when the two differ.
A missing key at run time shows the key itself (and is logged), never an empty label.
"""

from __future__ import annotations

import logging
import tomllib
from functools import cache
from pathlib import Path

LANGUAGES = ("zh", "en")
LOCALE = Path(__file__).with_name("locale")
log = logging.getLogger("xgate.console")


@cache
def catalogue(lang: str) -> dict[str, str]:
    with (LOCALE / f"{lang}.toml").open("rb") as fh:
        data = tomllib.load(fh)
    flat: dict[str, str] = {}

    def walk(prefix: str, value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            flat[prefix] = str(value)

    walk("", data)
    return flat


def translate(lang: str, key: str, **values: object) -> str:
    text = catalogue(lang if lang in LANGUAGES else "zh").get(key)
    if text is None:
        log.warning("no %s label for %s", lang, key)
        return key
    return text.format(**values) if values else text
