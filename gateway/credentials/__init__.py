"""Open Badges 3.0 / CLR 2.0 credentials the college signs, and anyone can check.

Invariant: a credential leaves the college only signed with the college's Ed25519 key, naming
the college by ``did:web`` (whose document ``xgate serve`` publishes), and pointing at a
Bitstring Status List entry whose bit follows the certificate's state in the database: when an
organization revokes the certificate and a sync records it, the same file verifies as revoked.
``signing`` holds the key and the DID, ``status`` the bit list, ``document`` the credential
shapes, ``issue`` what is written to the database, ``check`` verification (database-free).
"""
