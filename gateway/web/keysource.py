"""Where the session-cookie key comes from: the key file of ``gateway.keys``, never the database.

A restart keeps sessions valid (the key is the file's); ``xgate keys init`` makes a new file
and so signs everyone out.
"""

from __future__ import annotations

from gateway.runtime import Gateway


def session_key(gw: Gateway) -> bytes:
    """32 bytes for aiohttp-session's EncryptedCookieStorage (Fernet)."""
    return gw.keys.session_key
