"""Scrub credentials out of text before it reaches a log, the graph or a user: the one place for it.

Two kinds of secrets: those a pattern recognises (bearer tokens, `password=...`, AWS key ids, JWTs,
user:password@ in URLs), and exact values registered at start-up (webhook URLs, header values, API
tokens) that no pattern could recognise.
"""

from __future__ import annotations

import re
import threading

# A key that names a secret: words joined by single `_`, `.` or `-`, one of them naming the secret.
# Only whole words (so `shoot--auth3--prod` is a shoot name, not a key), letters around the word
# allowed for camelCase (`clientSecret`, `apiKey`).
_SECRET_WORD = (r"[A-Za-z]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|signature|credential|auth)"
                r"[A-Za-z]*")
_SEGMENT = r"[A-Za-z0-9]+"
# Words that merely contain "auth" and name an outcome, not a secret: "Unauthorized: 401 GET ..."
# is an HTTP status line, and its status must stay readable.
_NOT_A_KEY = r"(?!(?:un)?authori[sz]ed(?![\w.-])|authenticated(?![\w.-]))"
_SECRET_KEY = rf"(?<![\w.-]){_NOT_A_KEY}((?:{_SEGMENT}[_.-])*{_SECRET_WORD}(?:[_.-]{_SEGMENT})*)(?![\w.-])"

_PATTERNS = [
    # Before the key=value rule, or "Authorization: Bearer X" would mask only the word "Bearer".
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 ***"),
    # key=value / key: value / "key": "value" pairs whose key names a secret
    (re.compile(rf"(?i){_SECRET_KEY}(\s*[=:]\s*|\"\s*:\s*\")([^\s,;&\"']+)"), r"\1\2***"),
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), "***"),
    (re.compile(r"(?i)(x-amz-security-token|x-auth-token|x-subject-token)[=:]\s*\S+"), r"\1: ***"),
    (re.compile(r"//[^/\s:@]+:[^/\s@]+@"), "//***:***@"),  # user:password@host in URLs
    (re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"), "***"),  # JWTs
]

_secrets: set[str] = set()
_secrets_lock = threading.Lock()
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words


def register_secret(value: str | None) -> None:
    """Mask this exact string in everything redacted from now on (e.g. a webhook URL, an API token)."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str, limit: int = 2000) -> str:
    with _secrets_lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "***")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
