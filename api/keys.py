"""API keys: created by `gridwatch keys create`, stored hashed, each with a role and a scope.

A key reads `gw_<key id>_<secret>`. Only the secret's SHA-256 is stored: the secret is 256
random bits, so a fast hash is enough (nothing to brute-force), and checking a key costs one
indexed lookup. The scope is a territory code: the key sees that subtree only (none: the
whole city).

>>> split_key("gw_ab12cd34_s3cr3t")
('ab12cd34', 's3cr3t')
>>> split_key("nonsense") is None
True
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from gridwatch.db import Conn

ROLES = ("viewer", "responder", "integrator", "admin")


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: str
    territory: str | None  # code, None for the whole city
    path: str  # the territory's path: a subtree is a prefix match ('' for the whole city)

    def covers(self, path: str | None) -> bool:
        return path is not None and (
            not self.path or path == self.path or path.startswith(self.path + "/")
        )


def split_key(key: str) -> tuple[str, str] | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "gw" or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def create_key(conn: Conn, role: str, territory: str | None = None, name: str | None = None) -> str:
    """A new key; it is shown once and never stored in clear."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if (
        territory is not None
        and conn.execute("SELECT 1 FROM territory WHERE code = %s", (territory,)).fetchone() is None
    ):
        raise ValueError(f"no territory {territory!r}")
    key_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32).replace("_", "-")
    conn.execute(
        "INSERT INTO api_key (key_id, secret_sha256, role, territory_code, name)"
        " VALUES (%s, %s, %s, %s, %s)",
        (key_id, _digest(secret), role, territory, name),
    )
    return f"gw_{key_id}_{secret}"


def revoke_key(conn: Conn, key_id: str) -> bool:
    cur = conn.execute(
        "UPDATE api_key SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL",
        (key_id,),
    )
    return cur.rowcount == 1


def authenticate(conn: Conn, key: str) -> Principal | None:
    parts = split_key(key)
    if parts is None:
        return None
    row = conn.execute(
        "SELECT k.secret_sha256, k.role, k.territory_code, coalesce(t.path, '') FROM api_key k"
        " LEFT JOIN territory t ON t.code = k.territory_code"
        " WHERE k.key_id = %s AND k.revoked_at IS NULL",
        (parts[0],),
    ).fetchone()
    if row is None or not secrets.compare_digest(bytes(row[0]), _digest(parts[1])):
        return None
    return Principal(parts[0], str(row[1]), row[2], str(row[3]))
