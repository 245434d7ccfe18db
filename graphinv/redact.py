"""Scrub things that look like credentials out of text before it reaches a log, the graph or a user."""

from __future__ import annotations

import re

_PATTERNS = [
    # Before the key=value rule, or "Authorization: Bearer X" would mask only the word "Bearer".
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 ***"),
    # key=value / key: value pairs whose key names a secret
    (re.compile(r"(?i)\b([\w.-]*(?:password|passwd|secret|token|api[_-]?key|access[_-]?key|"
                r"signature|credential|auth)[\w.-]*)(\s*[=:]\s*|\"\s*:\s*\")([^\s,;&\"']+)"), r"\1\2***"),
    (re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b"), "***"),
    (re.compile(r"(?i)(x-amz-security-token|x-auth-token|x-subject-token)[=:]\s*\S+"), r"\1: ***"),
    (re.compile(r"//[^/\s:@]+:[^/\s@]+@"), "//***:***@"),  # user:password@host in URLs
    (re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*"), "***"),  # JWTs
]


def redact(text: str, limit: int = 2000) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text if len(text) <= limit else text[: limit - 3] + "..."
