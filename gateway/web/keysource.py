"""Where the session-cookie key comes from: the one function to change when keys move.

The key never lives in the database. Until the key file of ``gateway.keys`` (issue 18) is in
place, a random key is made per process: sessions then end when ``xgate serve`` restarts.
"""

from __future__ import annotations

import os

from gateway.runtime import Gateway

_process_key = os.urandom(32)


def session_key(gw: Gateway) -> bytes:
    """32 bytes for aiohttp-session's EncryptedCookieStorage (Fernet)."""
    return _process_key
