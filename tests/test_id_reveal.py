"""Checking an applicant's identity (核对身份): the officer handling a request may see the
applicant's full ID number, only with a reason (422 naming the field without one), through the
policy (other roles and other officers are refused, and the refusal is ledgered) and the ledger
(the reason, never the number); before that, and on every other page, only the masked number."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from access import id_numbers, identities
from access.ledger import LedgerEntry
from tests.support.disclosure_pages import ID_NUMBER, MONDAY, as_role, at, file_request, post, take
from tests.support.portal import PASSWORD, Portal
from tests.support.web import field_error, login_token

pytestmark = [pytest.mark.store("file")]

MASKED = id_numbers.mask(ID_NUMBER)


def reveals(portal: Portal) -> list[LedgerEntry]:
    with portal.wired.sessions() as session:
        query = select(LedgerEntry).where(LedgerEntry.action == "disclosure.identity.reveal")
        return list(session.scalars(query.order_by(LedgerEntry.seq)))


def test_the_assigned_officer_sees_the_full_number_with_a_reason_and_it_is_ledgered(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    page = portal.client.get(f"/disclosures/{request_id}").text
    assert ID_NUMBER not in page and MASKED in page
    assert 'id="reveal-id"' in page and 'id="identity_reason"' in page

    blank = post(portal, f"/disclosures/{request_id}/identity", {"reason": "  "})
    assert blank.status_code == 422
    said = field_error(blank.text, "identity_reason")
    assert "reason" in said and "理由" in said
    assert ID_NUMBER not in blank.text and reveals(portal) == []

    shown = post(portal, f"/disclosures/{request_id}/identity", {"reason": "电话核对申请人身份"})
    assert shown.status_code == 200 and shown.headers["cache-control"] == "no-store"
    assert f'<strong id="id-number">{ID_NUMBER}</strong>' in shown.text
    (entry,) = reveals(portal)
    assert (entry.actor, entry.outcome) == ("disclosure-officer", "allowed")
    assert entry.detail["reason"] == "电话核对申请人身份" and entry.detail["request"] == request_id
    assert ID_NUMBER not in str(entry.detail)  # the ledger keeps why, never the number
    again = portal.client.get(f"/disclosures/{request_id}").text
    assert ID_NUMBER not in again  # shown once, for that answer only


@pytest.mark.parametrize("role", ["archive_manager", "archivist", "supervisor", "security_auditor"])
def test_other_roles_are_refused_and_the_refusal_is_ledgered(portal: Portal, role: str) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    as_role(portal, role)
    refused = post(portal, f"/disclosures/{request_id}/identity", {"reason": "想看看"})
    assert refused.status_code == 403 and ID_NUMBER not in refused.text
    (entry,) = reveals(portal)
    assert entry.outcome == "denied" and entry.detail["reason"] == "想看看"


def test_an_officer_not_handling_the_request_is_refused(portal: Portal) -> None:
    at(portal, MONDAY)
    request_id = file_request(portal)
    with portal.wired.sessions() as session:
        identities.create_user(
            session,
            username="officer-2",
            role="disclosure_officer",
            actor="test",
            now=MONDAY,
            password=PASSWORD,
        )
        session.commit()
    as_role(portal, "disclosure_officer")
    take(portal, request_id)
    portal.client.cookies.clear()
    signed = portal.client.post(
        "/login",
        data={"username": "officer-2", "password": PASSWORD, "csrf_token": login_token(portal)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text
    page = portal.client.get(f"/disclosures/{request_id}").text
    assert 'id="reveal-id"' not in page and MASKED in page and ID_NUMBER not in page
    refused = post(portal, f"/disclosures/{request_id}/identity", {"reason": "核对"})
    assert refused.status_code == 403 and "assigned-officer" in refused.text and ID_NUMBER not in refused.text
    assert [(e.actor, e.outcome) for e in reveals(portal)] == [("officer-2", "denied")]
