"""API bearer tokens: short-lived JWTs, HS256 pinned, every claim required and type-checked.

After a rotation (`casevault keys rotate token`) a token signed with the previous secret is still
accepted until it expires — at most one lifetime after the rotation — and never one that secret
signed later."""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jose import jwt
from jose.exceptions import JOSEError, JWTError

ALGORITHM = "HS256"  # pinned: the header's alg is never trusted
# Clock skew allowed for `iat` between the signing and the verifying host.
SKEW_SECONDS = 60
# The library's own claim checks let a token without `aud` through and take `exp` as any type;
# the claims are checked here instead, all of them, after the signature.
_NO_LIBRARY_CLAIM_CHECKS = {
    f"verify_{name}": False for name in ("aud", "iat", "exp", "nbf", "iss", "sub", "jti", "at_hash")
}


class TokenInvalid(ValueError):
    """A token that is malformed, forged, expired, or for another audience."""


@dataclass(frozen=True)
class RetiredSecret:
    """A signing secret rotated out: tokens it signed until `retired_at` are good until they expire."""

    secret: str
    retired_at: datetime


def secret_id(secret: str) -> str:
    """A short name for a secret, for the ledger: the start of its SHA-256, never the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class TokenSettings:
    """Signing secret, names and lifetime of API tokens, and the secrets rotated out."""

    secret: str
    issuer: str
    audience: str
    lifetime: timedelta = timedelta(minutes=15)
    retired: tuple[RetiredSecret, ...] = ()


def _decode(token: str, *, settings: TokenSettings, now: datetime) -> tuple[dict[str, Any], datetime | None]:
    """The claims of a token whose signature verifies under the current secret, or under a retired
    one whose tokens may not all have expired yet; with that secret's retirement time."""
    options = _NO_LIBRARY_CLAIM_CHECKS
    try:
        return jwt.decode(token, settings.secret, algorithms=[ALGORITHM], options=options), None
    except JWTError as exc:
        window = settings.lifetime + timedelta(seconds=SKEW_SECONDS)
        for retired in (r for r in settings.retired if now < r.retired_at + window):
            with contextlib.suppress(JWTError):
                claims = jwt.decode(token, retired.secret, algorithms=[ALGORITHM], options=options)
                return claims, retired.retired_at
        raise exc


def issue(*, settings: TokenSettings, username: str, token_version: int, now: datetime) -> str:
    """A signed token naming the user and the token version it was issued under."""
    claims = {
        "iss": settings.issuer,
        "aud": settings.audience,
        "sub": username,
        "tv": token_version,
        "iat": int(now.timestamp()),
        "exp": int((now + settings.lifetime).timestamp()),
    }
    return jwt.encode(claims, settings.secret, algorithm=ALGORITHM)


def _claim(claims: dict[str, Any], name: str, kind: type) -> Any:
    value = claims.get(name)
    # bool is an int to Python, never to a token: `"exp": true` is malformed.
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TokenInvalid(f"claim {name!r} is missing or not {'an integer' if kind is int else 'a string'}")
    return value


def read(token: str, *, settings: TokenSettings, now: datetime) -> dict[str, Any]:
    """Verify signature and algorithm, then issuer, audience, subject, version, issue time and
    expiry, each present and of its type; returns the claims."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise TokenInvalid(f"algorithm {header.get('alg')!r} is not accepted")
        claims, retired_at = _decode(token, settings=settings, now=now)
    except (JOSEError, ValueError, TypeError) as exc:  # malformed input of any shape is a bad token
        raise TokenInvalid(str(exc) or exc.__class__.__name__) from exc
    if _claim(claims, "iss", str) != settings.issuer:
        raise TokenInvalid("token is from another issuer")
    if _claim(claims, "aud", str) != settings.audience:
        raise TokenInvalid("token is for another audience")
    if not _claim(claims, "sub", str):
        raise TokenInvalid("claim 'sub' is empty")
    _claim(claims, "tv", int)
    if _claim(claims, "iat", int) > now.timestamp() + SKEW_SECONDS:
        raise TokenInvalid("token is issued in the future")
    if retired_at is not None and claims["iat"] > retired_at.timestamp() + SKEW_SECONDS:
        raise TokenInvalid("token is signed with a retired secret after it was retired")
    if _claim(claims, "exp", int) <= now.timestamp():
        raise TokenInvalid("token has expired")
    return claims
