"""The internal disclosure pages' messages (依申请公开办理): key → (Simplified Chinese, English)."""

from __future__ import annotations

DISCLOSURE_MESSAGES: dict[str, tuple[str, str]] = {}
