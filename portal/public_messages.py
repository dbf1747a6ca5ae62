"""The public portal's messages: key → (Simplified Chinese, English)."""

from __future__ import annotations

PUBLIC_MESSAGES: dict[str, tuple[str, str]] = {}
