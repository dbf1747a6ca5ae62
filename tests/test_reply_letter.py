"""One reply letter (政府信息公开申请答复告知书) for both doors: what the office prints and what the
applicant reads on the public portal are the same letter — decision, legal basis, reasons, the
released items with their SHA-256, the release period and the same remedies text."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from access.disclosure.models import ReleasedItem
from tests.support.disclosure_pages import MONDAY, as_role, at, file_request, reply, take
from tests.support.portal import PASSWORD, Portal
from tests.support.web import CSRF_FIELD

pytestmark = [pytest.mark.store("file")]


def applicant_browser(portal: Portal) -> TestClient:
    """The applicant signed in at the public door, in a browser of their own."""
    client = TestClient(portal.client.app, base_url="https://testserver")
    form = client.get("/public/login")
    token = CSRF_FIELD.search(form.text)
    assert token
    signed = client.post(
        "/public/login",
        data={"username": "zhangsan", "password": PASSWORD, "csrf_token": token.group(1), "next": ""},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    return client


def article(html: str) -> str:
    """The letter itself, without the page around it."""
    found = re.search(r'<article class="letter[^"]*".*?</article>', html, flags=re.S)
    assert found, html[:500]
    return found.group(0)


def part(letter: str, element_id: str) -> str:
    """The text of one part of the letter, tags dropped, spaces collapsed."""
    found = re.search(rf'id="{element_id}"[^>]*>(.*?)</(?:p|blockquote|section|table)>', letter, flags=re.S)
    assert found, element_id
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_both_doors_show_the_same_letter_with_the_same_remedies_and_digests(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    data = {
        "decision": "partly_released",
        "reasons": "询问笔录涉及个人隐私，不予公开；其余可以公开",
        "basis": "art15_commercial_privacy",
        "record_ids": ["d2", "e1"],
    }
    assert reply(portal, request_id, data).status_code == 303
    with portal.wired.sessions() as session:
        digests = list(
            session.scalars(select(ReleasedItem.sha256).where(ReleasedItem.request_id == request_id))
        )
    assert len(digests) == 2

    office = article(portal.client.get(f"/disclosures/{request_id}/letter").text)
    public = applicant_browser(portal).get(f"/public/disclosures/{request_id}/letter")
    assert public.status_code == 200
    applicant = article(public.text)

    for letter in (office, applicant):
        assert "政府信息公开申请答复告知书" in letter
        assert all(digest in letter for digest in digests)
        assert "第十五条" in letter and "第三十七条" in letter
    for element_id in ("letter-remedy", "letter-decision", "letter-art36", "letter-basis", "letter-release"):
        assert part(office, element_id) == part(applicant, element_id), element_id
    assert "申请行政复议" in part(office, "letter-remedy") and "提起行政诉讼" in part(office, "letter-remedy")
    # the released items, row by row, with the same digests on both sides
    rows = lambda letter: re.findall(r'<code class="sha">([0-9a-f]{64})</code>', letter)  # noqa: E731
    assert rows(office) == rows(applicant) and sorted(rows(office)) == sorted(digests)
    # only the office's copy names the member of staff who handled it
    assert "经办人" in office and "经办人" not in applicant

    english = applicant_browser(portal).get(f"/public/disclosures/{request_id}/letter?lang=en").text
    office_en = portal.client.get(f"/disclosures/{request_id}/letter?lang=en").text
    assert part(article(english), "letter-remedy") == part(article(office_en), "letter-remedy")
    assert "administrative reconsideration" in part(article(english), "letter-remedy")
