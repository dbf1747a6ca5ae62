"""API bearer tokens: short-lived JWTs, HS256 pinned, issuer and audience checked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jose import jwt
from jose.exceptions import JOSEError

ALGORITHM = "HS256"  # pinned: the header's alg is never trusted


class TokenInvalid(ValueError):
    """A token that is malformed, forged, expired, or for another audience."""


@dataclass(frozen=True)
class TokenSettings:
    """Signing secret, names and lifetime of API tokens."""

    secret: str
    issuer: str
    audience: str
    lifetime: timedelta = timedelta(minutes=15)


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


def read(token: str, *, settings: TokenSettings, now: datetime) -> dict[str, Any]:
    """Verify signature, algorithm, issuer, audience and expiry; returns the claims."""
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != ALGORITHM:
            raise TokenInvalid(f"algorithm {header.get('alg')!r} is not accepted")
        claims = jwt.decode(
            token,
            settings.secret,
            algorithms=[ALGORITHM],
            audience=settings.audience,
            issuer=settings.issuer,
            options={"verify_exp": False, "require_exp": True, "require_sub": True},
        )
    except JOSEError as exc:
        raise TokenInvalid(str(exc)) from exc
    if claims["exp"] <= now.timestamp():
        raise TokenInvalid("token has expired")
    return claims
