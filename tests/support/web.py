"""Signing in to the internal pages and reading what they show, as a browser would."""

from __future__ import annotations

import re

from tests.support.portal import PASSWORD, Portal, username

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def login_token(portal: Portal) -> str:
    """Open the sign-in page and read its CSRF field."""
    page = portal.client.get("/login")
    assert page.status_code == 200
    found = CSRF_FIELD.search(page.text)
    assert found, "the sign-in form has no CSRF field"
    return found.group(1)


def sign_in(portal: Portal, role: str, *, password: str = PASSWORD, next_path: str = "/"):  # type: ignore[no-untyped-def]
    """Sign in through the form; returns the POST's response (not followed)."""
    token = login_token(portal)
    return portal.client.post(
        "/login",
        data={"username": username(role), "password": password, "csrf_token": token, "next": next_path},
        follow_redirects=False,
    )


def signed_in(portal: Portal, role: str) -> Portal:
    """The portal's client, signed in as that role."""
    response = sign_in(portal, role)
    assert response.status_code == 303, response.text
    return portal


def session_csrf(portal: Portal) -> str:
    """The signed-in session's CSRF token, as the sign-out form carries it."""
    found = CSRF_FIELD.search(portal.client.get("/").text)
    assert found
    return found.group(1)


def field_error(html: str, name: str) -> str:
    """The message shown next to a field."""
    found = re.search(rf'id="{name}-error"[^>]*>([^<]+)<', html)
    assert found, f"no error next to {name}"
    return found.group(1)


def badge(html: str) -> int:
    found = re.search(r'id="notice-count">(\d+)<', html)
    return int(found.group(1)) if found else 0
