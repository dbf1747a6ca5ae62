"""The disclosure transition table: a step it does not list for a status is refused (409) and
changes nothing; every step it lists can be taken from a status a request can actually reach."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from access.disclosure.errors import StepNotAllowed
from access.disclosure.models import DisclosureRequest, DisclosureStatus
from access.disclosure.transitions import INITIAL, TRANSITIONS, Step, advance
from access.errors import Conflict

CODE = "GK2025-TESTCODE"
PAIRS = [(step, status) for step in Step for status in DisclosureStatus]
LISTED = [(step, status) for step, status in PAIRS if status in TRANSITIONS[step]]
UNLISTED = [(step, status) for step, status in PAIRS if status not in TRANSITIONS[step]]


def reachable() -> set[DisclosureStatus]:
    """The statuses a filed request can get to by steps the table allows."""
    seen, todo = {INITIAL}, [INITIAL]
    while todo:
        status = todo.pop()
        for moves in TRANSITIONS.values():
            target = moves.get(status)
            if target is not None and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def request_in(status: DisclosureStatus) -> DisclosureRequest:
    return DisclosureRequest(tracking_code=CODE, status=status.value)


@pytest.mark.parametrize(("step", "status"), UNLISTED, ids=[f"{s}-from-{t}" for s, t in UNLISTED])
def test_a_step_the_table_does_not_list_is_refused_and_changes_nothing(
    step: Step, status: DisclosureStatus
) -> None:
    row = request_in(status)
    with pytest.raises(StepNotAllowed) as refused:
        advance(row, step)
    assert row.status == status.value
    assert isinstance(refused.value, Conflict)  # answered 409
    allowed = ", ".join(TRANSITIONS[step])
    assert str(refused.value) == f"request: {CODE} is {status.value}; this step needs {allowed}"
    assert refused.value.code == "disclosure.step_not_allowed"
    assert refused.value.params == {
        "tracking_code": CODE,
        "status": status.value,
        "step": step,
        "allowed": tuple(TRANSITIONS[step]),
    }


@pytest.mark.parametrize(("step", "status"), LISTED, ids=[f"{s}-from-{t}" for s, t in LISTED])
def test_every_step_the_table_lists_is_reachable_and_lands_where_it_says(
    step: Step, status: DisclosureStatus
) -> None:
    assert status in reachable()
    row = request_in(status)
    advance(row, step)
    assert row.status == TRANSITIONS[step][status].value


def test_every_status_is_reachable_and_every_step_has_somewhere_to_start() -> None:
    assert reachable() == set(DisclosureStatus)
    assert all(TRANSITIONS[step] for step in Step)


def test_an_answered_or_withdrawn_request_only_takes_messages() -> None:
    for closed in (DisclosureStatus.decided, DisclosureStatus.withdrawn):
        assert [step for step in Step if closed in TRANSITIONS[step]] == [Step.message]
        assert TRANSITIONS[Step.message][closed] is closed


def test_only_the_transition_table_sets_a_disclosure_status() -> None:
    """No `….status = …` on a request anywhere but `advance`: a new step cannot bypass the table."""
    root = Path(__file__).resolve().parent.parent
    table = root / "access" / "disclosure" / "transitions.py"
    sources = [*(root / "access" / "disclosure").glob("*.py"), *(root / "portal").rglob("*.py")]
    setters = []
    for path in sources:
        if path == table or "disclosure" not in path.read_text(encoding="utf-8"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            targets += [node.target] if isinstance(node, ast.AugAssign | ast.AnnAssign) else []
            setters += [
                f"{path.relative_to(root)}:{node.lineno}"
                for target in targets
                if isinstance(target, ast.Attribute) and target.attr == "status"
            ]
    assert not setters, f"a disclosure status is set outside transitions.advance: {setters}"
