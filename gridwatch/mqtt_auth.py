"""Mosquitto's password and ACL files, written from the registry (`gridwatch mqtt sync`).

A device may publish only on its own topics, `gw/v1/{community}/{type}/{device_id}/#`; a
gateway only on its own gateway topics in its community (its batch carries its devices'
records, which ingest checks belong to that community). GridWatch's own consumer reads
everything. Passwords are Mosquitto's PBKDF2-SHA512 form (`$7$`), made here so that no
clear password is ever written; the registry keeps the same hash (`device.credential_hash`,
`gateway.credential_hash`) from when the credentials were issued.

>>> h = password_hash("s3cret", salt=b"0123456789ab")
>>> h.startswith("$7$101$MDEyMzQ1Njc4OWFi$") and verify("s3cret", h) and not verify("x", h)
True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from gridwatch.contract import GATEWAY, TOPIC_PREFIX
from gridwatch.db import Conn

ITERATIONS = 101  # mosquitto_passwd's default


def password_hash(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt or os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify(password: str, hashed: str) -> bool:
    _, kind, iterations, salt, digest = hashed.split("$")
    if kind != "7":
        return False
    again = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), base64.b64decode(salt), int(iterations)
    )
    return hmac.compare_digest(again, base64.b64decode(digest))


def write_files(conn: Conn, out: Path, consumer: str, consumer_password: str) -> dict[str, int]:
    """`passwd` and `acl` in `out` for every device and gateway with credentials."""
    out.mkdir(parents=True, exist_ok=True)
    devices = conn.execute(
        "SELECT device_id, device_type, community_code, credential_hash FROM device"
        " WHERE credential_hash IS NOT NULL AND retired_at IS NULL ORDER BY device_id"
    ).fetchall()
    gateways = conn.execute(
        "SELECT gateway_id, community_code, credential_hash FROM gateway"
        " WHERE credential_hash IS NOT NULL ORDER BY gateway_id"
    ).fetchall()
    passwd = [f"{consumer}:{password_hash(consumer_password)}"]
    acl = [f"user {consumer}", f"topic read {TOPIC_PREFIX}/#", ""]
    for device_id, dtype, community, hashed in devices:
        passwd.append(f"{device_id}:{hashed}")
        acl += [
            f"user {device_id}",
            f"topic write {TOPIC_PREFIX}/{community}/{dtype}/{device_id}/#",
            "",
        ]
    for gateway_id, community, hashed in gateways:
        passwd.append(f"{gateway_id}:{hashed}")
        acl += [
            f"user {gateway_id}",
            f"topic write {TOPIC_PREFIX}/{community}/{GATEWAY}/{gateway_id}/#",
            "",
        ]
    _write(out / "passwd", "\n".join(passwd) + "\n")
    _write(out / "acl", "\n".join(acl) + "\n")
    return {"devices": len(devices), "gateways": len(gateways)}


def _write(path: Path, text: str) -> None:
    """Replace atomically, readable by the broker only."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    tmp.replace(path)
