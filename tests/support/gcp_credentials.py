"""Service-account key files for the GCP credential tests, and what must never leak from them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

# A JWT (a self-signed one, or an assertion) and a Google access token, wherever they might be printed.
JWT_SHAPE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
ACCESS_TOKEN_SHAPE = re.compile(r"ya29\.[A-Za-z0-9_-]{8,}")


def with_another_key(key_file: Path, target: Path) -> Path:
    """A copy of the key file naming the same account and key id, signed by a key nobody knows."""
    info = json.loads(key_file.read_text())
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    info["private_key"] = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()).decode()
    target.write_text(json.dumps(info))
    target.chmod(0o600)
    return target


def key_material(*key_files: Path) -> list[str]:
    """The parts of the key files' private keys that must appear nowhere: the lines of the PEM body
    (but its short last line, which could turn up anywhere by chance)."""
    lines: list[str] = []
    for key_file in key_files:
        pem = str(json.loads(key_file.read_text())["private_key"])
        lines.extend(line for line in pem.splitlines() if len(line) >= 16 and not line.startswith("-----"))
    return lines


def leaks(text: str, key_files: list[Path]) -> list[str]:
    """What of the credentials `text` shows (empty when nothing): key lines, JWTs, access tokens."""
    found = [f"private key line {line[:8]}..." for line in key_material(*key_files) if line in text]
    found += ["PRIVATE KEY"] if "PRIVATE KEY" in text else []
    found += [f"a JWT {m.group()[:12]}..." for m in JWT_SHAPE.finditer(text)]
    found += [f"an access token {m.group()[:9]}..." for m in ACCESS_TOKEN_SHAPE.finditer(text)]
    return found
