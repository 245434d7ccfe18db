"""Checking AWS Signature Version 4 on requests to the simulated EC2/STS endpoint.

The simulator checks signatures so that a collector that signs with the wrong key (for example
the base credentials instead of the assumed role's) fails here as it would against AWS. The
algorithm follows the public SigV4 specification: canonical request, string to sign, HMAC chain.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import quote

from graphinv.sim.http import Request

ALGORITHM = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class Credential:
    access_key: str
    date: str  # yyyymmdd
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


class SignatureError(ValueError):
    """The Authorization header is missing or malformed."""


def parse_authorization(header: str | None) -> Credential:
    if not header or not header.startswith(ALGORITHM + " "):
        raise SignatureError("missing or unsupported Authorization header")
    parts: dict[str, str] = {}
    for item in header[len(ALGORITHM) + 1:].split(","):
        name, _, value = item.strip().partition("=")
        parts[name] = value
    try:
        access_key, date, region, service, terminator = parts["Credential"].split("/")
        signed = tuple(parts["SignedHeaders"].split(";"))
        signature = parts["Signature"]
    except (KeyError, ValueError) as exc:
        raise SignatureError("malformed Authorization header") from exc
    if terminator != "aws4_request":
        raise SignatureError("malformed credential scope")
    return Credential(access_key, date, region, service, signed, signature)


def _canonical_query(query: dict[str, list[str]]) -> str:
    pairs = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, values in query.items() for v in values)
    return "&".join(f"{k}={v}" for k, v in pairs)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def expected_signature(request: Request, credential: Credential, secret: str) -> str:
    headers = "".join(f"{name}:{' '.join(request.headers.get(name, '').split())}\n"
                      for name in credential.signed_headers)
    payload_hash = request.headers.get("x-amz-content-sha256") or hashlib.sha256(request.body).hexdigest()
    canonical = "\n".join([
        request.method, quote(request.path or "/", safe="/~"), _canonical_query(request.query), headers,
        ";".join(credential.signed_headers), payload_hash,
    ])
    amz_date = request.headers.get("x-amz-date", "")
    to_sign = "\n".join([ALGORITHM, amz_date, credential.scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(("AWS4" + secret).encode(), credential.date)
    for part in (credential.region, credential.service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def signature_matches(request: Request, credential: Credential, secret: str) -> bool:
    return hmac.compare_digest(expected_signature(request, credential, secret), credential.signature)
