"""Service-account authentication for the simulated Compute Engine API (graphinv/sim/gcp.py).

The simulator owns one service account: an RSA key pair (generated, or given), a `client_email`
and a `private_key_id`. It hands out the account's JSON key file, whose `token_uri` points at the
simulator, and accepts the two ways Google's client libraries authenticate with such a key:

- the OAuth2 JWT-bearer grant (RFC 7523): `POST /token` with
  `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and an `assertion` JWT (RS256, signed by
  the account's key, `iss` the account, `aud` Google's token endpoint or the token_uri, a `scope`,
  at most an hour between `iat` and `exp`) answers `{"access_token", "expires_in", "token_type"}`;
- a self-signed JWT sent straight to the API as the bearer token (AIP-4111: `iss` = `sub` = the
  account, a `scope` claim or `aud` = the service's URL). google-cloud-compute's clients send these:
  their transport turns service-account credentials into self-signed JWT credentials, so they never
  ask the token endpoint.

Both live `token_seconds`: an access token until `expires_in` ends; a self-signed JWT until
`iat + token_seconds` (or its `exp`, whichever is first). A real API accepts a self-signed JWT until
its `exp`, at most an hour after `iat`; the simulator may cut that short so tests see the SDK replace
one in seconds. `revoke()` ends every credential issued or seen so far, as a revoked key would.

Nothing here logs or echoes a credential: refusals say what was wrong, never with what.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from graphinv.sim.http import Request, Response

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PATH = "/token"
MAX_JWT_SECONDS = 3600  # Google refuses assertions and self-signed JWTs that claim to live longer
CLOCK_SKEW = 60  # seconds an `iat` may lie in the future
COMPUTE_AUDIENCES = frozenset({"https://compute.googleapis.com/", "https://compute.googleapis.com"})
# Scopes that let a caller read Compute Engine.
COMPUTE_SCOPES = frozenset({
    "https://www.googleapis.com/auth/compute.readonly",
    "https://www.googleapis.com/auth/compute",
    "https://www.googleapis.com/auth/cloud-platform",
    "https://www.googleapis.com/auth/cloud-platform.read-only",
})
# The audiences Google's token endpoint takes in an assertion (google-auth names the first whatever
# the key file's token_uri says); the simulator also takes its own token_uri.
TOKEN_AUDIENCES = frozenset({"https://oauth2.googleapis.com/token", "https://www.googleapis.com/oauth2/v4/token",
                             "https://accounts.google.com/o/oauth2/token"})
ACCESS_TOKEN_PREFIX = "ya29."  # like Google's; tells an issued token from a self-signed JWT


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _digest(token: str) -> str:
    """What the simulator remembers of a credential: enough to recognise it, not to use it."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class _Jwt:
    header: dict[str, Any]
    claims: dict[str, Any]


class JwtRefused(ValueError):
    """A JWT the simulator does not accept; the message says why and never quotes the JWT."""


def verify_jwt(token: str, public_key: rsa.RSAPublicKey) -> _Jwt:
    """The header and claims of an RS256 JWT whose signature `public_key` verifies."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwtRefused("not a JWT")
    try:
        header = json.loads(_unb64(parts[0]))
        claims = json.loads(_unb64(parts[1]))
        signature = _unb64(parts[2])
    except (ValueError, binascii.Error):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise JwtRefused("not a JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtRefused("not a JWT")
    if header.get("alg") != "RS256":
        raise JwtRefused("unsupported signing algorithm")
    try:
        public_key.verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise JwtRefused("Invalid JWT Signature.") from None
    return _Jwt(header, claims)


def _lifetime(claims: dict[str, Any], now: float) -> tuple[int, int]:
    """(iat, exp) of a JWT that is short-lived and current, as Google checks them."""
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int):
        raise JwtRefused("Invalid JWT: iat and exp must be numbers")
    if exp - iat > MAX_JWT_SECONDS or exp <= iat or iat > now + CLOCK_SKEW or exp <= now:
        raise JwtRefused("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
                         "timeframe. Check your iat and exp values in the JWT claim.")
    return iat, exp


def _scopes(claims: dict[str, Any]) -> set[str]:
    scope = claims.get("scope")
    return set(scope.split()) if isinstance(scope, str) else set()


def _oauth_error(code: str, description: str, status: int = 400) -> Response:
    return Response.json({"error": code, "error_description": description}, status)


class ServiceAccountAuth:
    """The simulator's service account, its token endpoint and the bearer check of its API."""

    def __init__(self, project: str, token_seconds: int, signing_key: rsa.RSAPrivateKey | None = None) -> None:
        if token_seconds < 1:
            raise ValueError("token_seconds must be at least 1")
        self.token_seconds = token_seconds
        self._key = signing_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_key = self._key.public_key()
        public_der = self.public_key.public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        self.private_key_id = hashlib.sha1(public_der, usedforsecurity=False).hexdigest()  # an id, not a secret
        self.client_id = str(10**20 + int.from_bytes(public_der[-8:], "big") % 10**20)
        self.client_email = f"graphinv-sim-reader@{project}.iam.gserviceaccount.com"
        self.project = project
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # digest of an issued access token -> when it expires
        self._jwts: dict[str, float] = {}  # digest of a self-signed JWT seen -> when the sim stops taking it
        self._revoked: set[str] = set()
        self.token_requests = 0  # access tokens issued by the token endpoint
        self.token_refusals = 0  # token requests refused (bad grant, signature, claims)
        self.expired_calls = 0  # API calls with a credential that was good once but has expired or been revoked
        self.refused_calls = 0  # API calls answered 401 for any reason

    # -- the key file ---------------------------------------------------------------------------
    def key_info(self, token_uri: str) -> dict[str, str]:
        """The service account's JSON key, as the IAM API hands it out (token_uri: the simulator)."""
        pem = self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()).decode()
        email = self.client_email
        return {
            "type": "service_account",
            "project_id": self.project,
            "private_key_id": self.private_key_id,
            "private_key": pem,
            "client_email": email,
            "client_id": self.client_id,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{email.replace('@', '%40')}",
            "universe_domain": "googleapis.com",
        }

    def write_key_file(self, path: Path, token_uri: str) -> Path:
        """The key file, readable by its owner only (it holds the private key)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(json.dumps(self.key_info(token_uri), indent=2))
        return path

    # -- what tests look at ---------------------------------------------------------------------
    @property
    def self_signed_jwts(self) -> int:
        """Distinct self-signed JWTs (correctly signed, for this API) seen so far: each one the SDK made anew."""
        with self._lock:
            return len(self._jwts)

    def revoke(self) -> None:
        """Every credential issued or seen so far stops working (a key rotated or revoked)."""
        with self._lock:
            self._revoked.update(self._tokens)
            self._revoked.update(self._jwts)

    # -- the token endpoint ---------------------------------------------------------------------
    def token(self, request: Request, token_uri: str) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode(errors="replace")).items()}
        refusal = self._grant_refusal(form, token_uri)
        if refusal is not None:
            with self._lock:
                self.token_refusals += 1
            return refusal
        token = f"{ACCESS_TOKEN_PREFIX}{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens[_digest(token)] = time.time() + self.token_seconds
            self.token_requests += 1
        return Response.json({"access_token": token, "expires_in": self.token_seconds, "token_type": "Bearer"},
                             headers={"Cache-Control": "no-store"})

    def _grant_refusal(self, form: dict[str, str], token_uri: str) -> Response | None:
        if form.get("grant_type") != JWT_BEARER:
            return _oauth_error("unsupported_grant_type", "Invalid grant_type.")
        try:
            jwt = verify_jwt(form.get("assertion", ""), self.public_key)
            self._check_signer(jwt)
            if jwt.claims.get("aud") not in TOKEN_AUDIENCES | {token_uri}:
                raise JwtRefused("Invalid JWT: Failed audience check.")
            _lifetime(jwt.claims, time.time())
        except JwtRefused as refused:
            return _oauth_error("invalid_grant", str(refused))
        if not _scopes(jwt.claims):
            return _oauth_error("invalid_scope", "Empty or missing scope not allowed.")
        return None

    def _check_signer(self, jwt: _Jwt) -> None:
        kid = jwt.header.get("kid")
        if kid is not None and kid != self.private_key_id:
            raise JwtRefused("Invalid JWT Signature.")  # Google finds no key by that id
        if jwt.claims.get("iss") != self.client_email:
            raise JwtRefused("Invalid JWT: the issuer is not a known service account.")

    # -- the API's bearer check -----------------------------------------------------------------
    def refusal(self, request: Request) -> Response | None:
        """None when the request carries a live credential; else the Compute API's 401 (or 403)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._unauthenticated("Request is missing required authentication credential. Expected "
                                         "OAuth 2 access token, login cookie or other valid authentication "
                                         "credential.", "required")
        token = token.strip()
        now = time.time()
        digest = _digest(token)
        if token.startswith(ACCESS_TOKEN_PREFIX):
            with self._lock:
                until = self._tokens.get(digest)
                live = until is not None and now < until and digest not in self._revoked
                self.expired_calls += until is not None and not live
            return None if live else self._invalid()
        try:
            jwt = verify_jwt(token, self.public_key)
            self._check_signer(jwt)
            if jwt.claims.get("sub", jwt.claims.get("iss")) != self.client_email:
                raise JwtRefused("subject")
            iat, exp = _lifetime(jwt.claims, now)
        except JwtRefused:
            return self._invalid()
        if jwt.claims.get("aud") not in COMPUTE_AUDIENCES and not _scopes(jwt.claims) & COMPUTE_SCOPES:
            with self._lock:
                self.refused_calls += 1
            return _api_error(403, "Request had insufficient authentication scopes.", "insufficientPermissions",
                              "PERMISSION_DENIED")
        with self._lock:
            until = self._jwts.setdefault(digest, min(float(exp), float(iat + self.token_seconds)))
            live = now < until and digest not in self._revoked
            self.expired_calls += not live
        return None if live else self._invalid()

    def _invalid(self) -> Response:
        return self._unauthenticated("Request had invalid authentication credentials. Expected OAuth 2 access "
                                     "token, login cookie or other valid authentication credential.", "authError")

    def _unauthenticated(self, message: str, reason: str) -> Response:
        with self._lock:
            self.refused_calls += 1
        return _api_error(401, message, reason, "UNAUTHENTICATED",
                          {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/", error="invalid_token"'})


def _api_error(code: int, message: str, reason: str, status: str, headers: dict[str, str] | None = None) -> Response:
    """The Compute API's JSON error for an authentication failure."""
    body = {"error": {"code": code, "message": message, "status": status,
                      "errors": [{"message": message, "domain": "global", "reason": reason,
                                  "location": "Authorization", "locationType": "header"}]}}
    return Response.json(body, code, headers)
