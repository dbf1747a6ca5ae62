"""The one policy decision point (访问控制决策点): `decide(subject, action, resource, context)`.

Deny by default. A role may only attempt what `ROLE_ACTIONS` lists; content is never read by
the three administrators (三员分立); state secrets need clearance at least their grade;
supervisors act only inside an approved, unexpired, unrevoked grant that names the record;
nobody decides their own request (不得自行审批); applicants act on their own disclosure requests
only, and see released material only inside its release period; only the officer a disclosure
request is assigned to handles it; state-secret records are never released, whatever the clearance;
nobody changes their own role or clearance, and the three administrators' accounts are made and
changed at the console (`casevault users`), never in the portal, so none of them becomes another.
A resource the rules cannot judge — an unknown kind or classification, archive material without
its case, bundle or record — is refused (`incomplete-resource`): resources are built only by the
constructors below, never field by field, so nothing defaults to "unclassified".
`enforce` decides and writes the decision to the ledger in the caller's transaction; `permits`
answers "may this role ever attempt this?" for menus and shortcuts, and is never a permission.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from access import ledger
from access.models import Clearance, RetrievalGrant, Role
from archive.errors import ArchiveError
from archive.models import Bundle, CaseRecord


class Action(StrEnum):
    """What a subject may attempt."""

    case_list = "case.list"
    case_search = "case.search"  # find a case to ask for, by number, party or date: number, title, dates only
    bundle_read = "bundle.read"  # metadata: records, classification, findings
    record_view = "record.view"
    record_download = "record.download"  # a watermarked, fingerprinted copy
    record_original = "record.original"  # the sealed bytes themselves, as an attachment
    bundle_deposit = "bundle.deposit"
    bundle_verify = "bundle.verify"
    bundle_audit = "bundle.audit"  # a scheduled fixity audit (定期检测): digests, seal, locks
    fixity_read = "fixity.read"  # the fixity page: audit standing, failures, open alerts
    fixity_acknowledge = "fixity.acknowledge"  # close an audit alert with a note
    bundle_export = "bundle.export"
    store_reconcile = "store.reconcile"  # clear what interrupted deposits left in the store
    ledger_read = "ledger.read"
    ledger_verify = "ledger.verify"
    trail_read = "trail.read"  # one person's, case's or record's trail in the ledger (审计轨迹)
    trail_export = "trail.export"  # the same as CSV or a signed evidence package (证据包)
    user_read = "user.read"  # the accounts: role, department, clearance, state; never a password hash
    user_create = "user.create"  # add an account
    user_update = "user.update"  # disable, enable, reset the password, change the department
    user_role = "user.role"  # change an account's role or clearance: never one's own (三员分立)
    settings_read = "settings.read"  # system settings: signing keys in use, store and database health
    retrieval_request = "retrieval.request"  # file a registered retrieval request (调取登记)
    retrieval_decide = "retrieval.decide"  # approve or refuse one
    retrieval_revoke = "retrieval.revoke"  # revoke the grant of an approved one
    retrieval_read = "retrieval.read"  # one's own retrieval request (others read it in the register)
    register_read = "register.read"  # the retrieval register (调取登记簿): metadata, never content
    copy_trace = "copy.trace"  # find whose watermarked copy a file is
    disclosure_submit = "disclosure.submit"  # file an information-disclosure request (依申请公开)
    disclosure_read = "disclosure.read"  # one request: status, deadlines, messages, reply
    disclosure_correct = "disclosure.correct"  # the applicant answers a correction notice (补正)
    disclosure_withdraw = "disclosure.withdraw"  # the applicant withdraws their request (撤回申请)
    disclosure_release_view = "disclosure.release.view"  # released material (公开件), applicant side
    disclosure_queue = "disclosure.queue"  # the queue of open requests and their deadlines
    disclosure_assign = "disclosure.assign"  # give a request to a disclosure officer
    disclosure_handle = "disclosure.handle"  # correction notice, consultation, extension request, messages
    disclosure_decide = "disclosure.decide"  # the reply (答复, art. 36)
    disclosure_release = "disclosure.release"  # copy a record into the release realm
    disclosure_extension_decide = "disclosure.extension.decide"  # approve or refuse an extension (延期)
    calendar_edit = "calendar.edit"  # enter a year's holiday table (节假日安排)
    disclosure_remind = "disclosure.remind"  # be reminded of a request's deadline
    disclosure_identity_reveal = "disclosure.identity.reveal"  # the applicant's full ID number, with a reason
    retrieval_choose = "retrieval.choose_record"  # see a record offered in the retrieval request form
    notices_read = "retrieval.notices"  # one's own retrieval notices: requests to decide, decisions, expiries
    retention_schedule_read = "retention.schedule.read"  # the schedule (保管期限表), its versions and moves
    retention_schedule_edit = "retention.schedule.edit"  # add, change or retire a rule: a new version
    retention_locks = "retention.locks"  # extend the store locks the schedule asks for
    holds_place = "holds.place"  # place a legal hold (冻结) on a case
    holds_lift = "holds.lift"  # lift one, with a reason
    holds_read = "holds.read"  # the list of holds
    disposition_propose = "disposition.propose"  # an appraisal opinion on due cases (鉴定)
    disposition_approve = "disposition.approve"  # a manager's approval or refusal of a list
    disposition_read = "disposition.read"  # what is due, the lists, tombstones and certificates
    disposition_execute = "disposition.execute"  # carry out approved destructions (retention run)
    anomaly_read = "anomaly.read"  # the anomalies flagged from the ledger, and the rules' settings
    anomaly_acknowledge = "anomaly.acknowledge"  # acknowledge a flag with a note
    anomaly_rules_edit = "anomaly.rules.edit"  # tune a rule: on or off, its thresholds
    accountability_read = "accountability.read"  # the art. 20 report: findings by officer and article
    activities_edit = "activities.edit"  # the published list of activities recorded on video (art. 12)


CONTENT = frozenset(
    {Action.record_view, Action.record_download, Action.record_original, Action.bundle_export}
)
THREE_ROLES = frozenset({Role.sysadmin, Role.security_admin, Role.security_auditor})
ACCOUNT_CHANGES = frozenset({Action.user_create, Action.user_update, Action.user_role})
_ARCHIVE = {
    Action.case_list,
    Action.bundle_read,
    Action.record_view,
    Action.record_download,
    Action.record_original,
    Action.bundle_deposit,
    Action.bundle_verify,
    Action.bundle_export,
    Action.store_reconcile,
    Action.bundle_audit,
}
# Who watches the archive's fixity: archive staff and the security auditor.
_FIXITY = {Action.fixity_read, Action.fixity_acknowledge}
_REGISTER = {
    Action.retrieval_request,
    Action.retrieval_choose,
    Action.retrieval_read,
    Action.register_read,
    Action.copy_trace,
}
_DISCLOSURE = {
    Action.disclosure_read,
    Action.disclosure_queue,
    Action.disclosure_assign,
    Action.disclosure_remind,
}
_STAFF = {Action.notices_read}
_SCHEDULE = {Action.retention_schedule_read}
_HOLDS = {Action.holds_place, Action.holds_lift, Action.holds_read}
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.archivist: frozenset(
        _ARCHIVE
        | _REGISTER
        | _FIXITY
        | _STAFF
        | _SCHEDULE
        | _HOLDS
        | {
            Action.retention_locks,
            Action.disposition_propose,
            Action.disposition_read,
            Action.disposition_execute,
        }
    ),
    Role.archive_manager: frozenset(
        _ARCHIVE
        | _REGISTER
        | _FIXITY
        | _DISCLOSURE
        | _STAFF
        | _SCHEDULE
        | _HOLDS
        | {
            Action.retrieval_decide,
            Action.retrieval_revoke,
            Action.disclosure_extension_decide,
            Action.disposition_approve,
            Action.disposition_read,
            Action.accountability_read,
        }
    ),
    Role.disclosure_officer: frozenset(
        {Action.case_list, Action.bundle_read, Action.record_view}
        | _DISCLOSURE
        | _STAFF
        | {
            Action.disclosure_handle,
            Action.disclosure_decide,
            Action.disclosure_release,
            Action.disclosure_identity_reveal,
        }
    ),
    Role.supervisor: frozenset(
        {
            Action.case_list,
            Action.case_search,
            Action.bundle_read,
            Action.record_view,
            Action.record_download,
            Action.retrieval_request,
            Action.retrieval_choose,
            Action.retrieval_read,
        }
        | _STAFF
    ),
    Role.security_auditor: frozenset(
        {
            Action.ledger_read,
            Action.ledger_verify,
            Action.trail_read,
            Action.trail_export,
            Action.register_read,
            Action.copy_trace,
            Action.holds_read,
            Action.disposition_read,
            Action.anomaly_read,
            Action.anomaly_acknowledge,
            Action.anomaly_rules_edit,
            Action.accountability_read,
        }
        | _FIXITY
        | _STAFF
    ),
    # The security administrator manages accounts and nothing else; the system administrator
    # the system's settings and no account (三员分立).
    Role.security_admin: frozenset(
        {Action.user_read, Action.user_create, Action.user_update, Action.user_role} | _STAFF
    ),
    Role.sysadmin: frozenset(
        {
            Action.bundle_verify,
            Action.calendar_edit,
            Action.retention_schedule_edit,
            Action.settings_read,
            Action.activities_edit,
        }
        | _STAFF
        | _SCHEDULE
    ),
    Role.applicant: frozenset(
        {
            Action.disclosure_submit,
            Action.disclosure_read,
            Action.disclosure_correct,
            Action.disclosure_withdraw,
            Action.disclosure_release_view,
        }
    ),
}
# What a grant must allow for each action a supervisor attempts; only these need a grant. Choosing
# records for a request needs none: the grant is what is being asked for.
GRANT_NEEDS = {Action.bundle_read: "view", Action.record_view: "view", Action.record_download: "download"}
# Actions on archive material: the resource must be a bundle or record, and clearance applies.
MATERIAL = CONTENT | {Action.bundle_read, Action.retrieval_choose}
# ...of which these are on one record.
ON_RECORD = frozenset({Action.record_view, Action.record_download, Action.record_original})
# Actions on a request that its own requester may never take (nobody approves their own request).
NOT_BY_REQUESTER = frozenset(
    {Action.retrieval_decide, Action.disclosure_extension_decide, Action.disposition_approve}
)
# Applicants act on their own requests only: every applicant action but filing a new request
# needs the request to be theirs — written as the exception, so a new action is never left open.
NEEDS_NO_OWNER = frozenset({Action.disclosure_submit})
# What only the officer a disclosure request is assigned to does.
ASSIGNED_ONLY = frozenset(
    {
        Action.disclosure_handle,
        Action.disclosure_decide,
        Action.disclosure_release,
        Action.disclosure_identity_reveal,
    }
)
CLEARANCE_RANK = {c.value: rank for rank, c in enumerate(Clearance)}
CLASSIFICATIONS = frozenset({"none", "personal_privacy", "commercial_secret", "state_secret"})
GRADES = frozenset(c.value for c in Clearance if c is not Clearance.none)
# Whole collections, never one item: what an action on the catalogue, ledger, ... is about.
COLLECTIONS = frozenset(
    {
        "catalogue",
        "archive",
        "ledger",
        "register",
        "calendar",
        "users",
        "settings",
        "retrieval",
        "disclosure",
        "fixity",
        "retention",
        "holds",
        "disposition",
        "anomalies",
        "accountability",
        "activities",
    }
)


# Why the rules refused, by reason code: the English text the ledger and the API keep (pages say it
# in their language by the same code, `portal.web.i18n.policy_reason`). `{name}` fields are filled.
REASONS: dict[str, str] = {
    "resource.kind": "unknown resource kind {kind}",
    "resource.classification": "unknown classification {value}",
    "resource.grade": "unknown grade {grade}",
    "resource.secret_grade": "a state secret needs its grade, and only a state secret has one",
    "resource.material": "archive material needs its case, bundle and classification",
    "resource.record_id": "a record needs its id",
    "resource.not_material": "{action} is about a bundle or record, not {kind}",
    "resource.one_record": "{action} is about one record",
    "resource.release": "releasing needs the record and its classification",
    "resource.retrieval_case": "a retrieval request needs its case",
    "resource.account": "a change of role or clearance names its account",
    "three_roles": "{role} never reads record content",
    "watermarked_copy": "supervisors download watermarked copies, never the original",
    "role": "role {role} may not {action}",
    "own_request": "nobody decides their own request (不得自行审批)",
    "own_account": "nobody changes their own account's role or clearance (三员分立)",
    "admin_account": (
        "the three administrators' accounts are made and changed at the console, not in the portal (三员分立)"
    ),
    "applicant_own": "applicants see and act on their own requests only",
    "retrieval_own": "others' retrieval requests are read in the register",
    "take_unassigned": "officers take unassigned requests for themselves; managers reassign",
    "reminded_own": "officers are reminded of their own and unassigned requests",
    "assigned_only": "only the officer the request is assigned to handles it",
    "state_secret": "state-secret records are never released to applicants (art. 14)",
    "release_period": "the release period of this material has ended",
    "clearance": "needs clearance {grade}; the user has {clearance}",
    "grant_scope": "no approved, unexpired, unrevoked grant covers this record and action",
    "grant_needed": "supervisors need an approved retrieval grant (调取登记) for this case",
}


@dataclass(frozen=True)
class Subject:
    """Who is asking."""

    username: str
    role: Role
    clearance: Clearance = Clearance.none
    department: str | None = None
    user_id: int | None = None


@dataclass(frozen=True)
class Resource:
    """What is asked for. Every field is required: build one with `resource_of`, `collection`,
    `entry_of`, `request_of` or `release_of`, never field by field."""

    kind: str  # "bundle", "record", a request kind or a collection
    case_no: str | None
    bundle_id: str | None
    record_id: str | None
    classification: str | None  # of the record or bundle; None for what is not archive material
    grade: str | None
    owner: str | None  # for a request: the username of who filed it (or asked for an extension)
    assignee: str | None  # for a disclosure request: the officer handling it
    available_until: datetime | None  # for released material: the end of its release period
    assign_to: str | None  # for an assignment: the officer the request would go to (None: anyone)
    account_roles: frozenset[str]  # for an account: the role it holds and any role it would take


def resource_of(bundle: Bundle, record: CaseRecord | None = None) -> Resource:
    """Archive material as the rules see it: a bundle, or one of its records, with its classification."""
    graded = record if record is not None else bundle
    return Resource(
        kind="bundle" if record is None else "record",
        case_no=bundle.case.case_no,
        bundle_id=bundle.id,
        record_id=None if record is None else record.record_id,
        classification=graded.classification,
        grade=graded.grade,
        owner=None,
        assignee=None,
        available_until=None,
        assign_to=None,
        account_roles=frozenset(),
    )


def collection(kind: str, *, case_no: str | None = None) -> Resource:
    """A whole collection (the catalogue, the ledger, the register, ...), optionally of one case."""
    return Resource(kind, case_no, None, None, None, None, None, None, None, None, frozenset())


def entry_of(entry: ledger.LedgerEntry) -> Resource:
    """The ledger, at one entry: the case, bundle and record it names."""
    return Resource(
        "ledger", entry.case_no, entry.bundle_id, entry.record_id, *(None,) * 6, frozenset()
    )


def request_of(
    kind: str,
    *,
    case_no: str | None,
    owner: str | None,
    assignee: str | None = None,
    bundle_id: str | None = None,
    record_id: str | None = None,
    available_until: datetime | None = None,
    assign_to: str | None = None,
) -> Resource:
    """A retrieval or disclosure request: its case, who filed it, who handles it, and what of it is asked."""
    return Resource(
        kind, case_no, bundle_id, record_id, None, None, owner, assignee, available_until, assign_to,
        frozenset(),
    )


def account_of(username: str, *, roles: Iterable[str]) -> Resource:
    """One account, by its username (the `owner`), with the role it holds and any it would take:
    what a new account or a change of one is about."""
    return Resource("users", None, None, None, None, None, username, None, None, None, frozenset(roles))


def release_of(request: Resource, material: Resource) -> Resource:
    """A disclosure request about to release one record: the request's people, the record's grading."""
    return replace(
        request,
        bundle_id=material.bundle_id,
        record_id=material.record_id,
        classification=material.classification,
        grade=material.grade,
    )


def _incomplete(action: Action, resource: Resource) -> tuple[str, dict[str, str]] | None:
    """Why the rules cannot judge this resource (a reason code and its fields), or None when they can."""
    if resource.kind not in COLLECTIONS | {"bundle", "record"}:
        return _why("resource.kind", kind=repr(resource.kind))
    if resource.classification is not None and resource.classification not in CLASSIFICATIONS:
        return _why("resource.classification", value=repr(resource.classification))
    if resource.grade is not None and resource.grade not in GRADES:
        return _why("resource.grade", grade=repr(resource.grade))
    if (resource.classification == "state_secret") != (resource.grade is not None):
        return _why("resource.secret_grade")
    if resource.kind in {"bundle", "record"} and (
        not resource.case_no or not resource.bundle_id or resource.classification is None
    ):
        return _why("resource.material")
    if resource.kind == "record" and not resource.record_id:
        return _why("resource.record_id")
    if action in MATERIAL and resource.kind not in {"bundle", "record"}:
        return _why("resource.not_material", action=action.value, kind=repr(resource.kind))
    if action in ON_RECORD and resource.kind != "record":
        return _why("resource.one_record", action=action.value)
    if action is Action.disclosure_release and (resource.classification is None or not resource.record_id):
        return _why("resource.release")
    if action is Action.user_role and not resource.owner:
        return _why("resource.account")
    if resource.kind == "retrieval" and action is not Action.retrieval_request and not resource.case_no:
        return _why("resource.retrieval_case")
    return None


@dataclass(frozen=True)
class GrantScope:
    """The part of a retrieval grant that decisions need."""

    grant_id: int
    bundle_id: str
    record_ids: tuple[str, ...]
    actions: tuple[str, ...]
    starts_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class Context:
    """When, from where, and under which grants."""

    now: datetime
    source: str | None = None
    grants: tuple[GrantScope, ...] = field(default=())


@dataclass(frozen=True)
class Decision:
    """Allowed or not, the rule that decided, and why in words."""

    allowed: bool
    rule: str
    reason: str
    grant_id: int | None = None
    code: str | None = None  # of a refusal: its key in REASONS, by which pages say it in their language


def _why(code: str, **fields: str) -> tuple[str, dict[str, str]]:
    return code, fields


def _deny(rule: str, code: str, **fields: str) -> Decision:
    """A refusal by `rule`, its reason the English text of `REASONS[code]` with `fields` filled."""
    return Decision(False, rule, REASONS[code].format(**fields), code=code)


def _grant_for(subject: Subject, action: Action, resource: Resource, context: Context) -> Decision:
    need = GRANT_NEEDS.get(action, "view")
    live = [g for g in context.grants if g.revoked_at is None and g.starts_at <= context.now < g.expires_at]
    for grant in live:
        if grant.bundle_id != resource.bundle_id:
            continue
        if resource.record_id is not None and resource.record_id not in grant.record_ids:
            continue
        if need not in grant.actions:
            continue
        return Decision(True, "grant", f"inside retrieval grant {grant.grant_id}", grant.grant_id)
    if any(g.bundle_id == resource.bundle_id for g in context.grants):
        return _deny("grant", "grant_scope")
    return _deny("grant", "grant_needed")


def permits(subject: Subject, action: Action) -> bool:
    """May this role ever attempt the action? For menus and shortcuts only; `decide` still decides."""
    return action in ROLE_ACTIONS.get(subject.role, frozenset())


def decide(subject: Subject, action: Action, resource: Resource, context: Context) -> Decision:
    """Deny by default; allow only what every rule that applies allows."""
    if (why := _incomplete(action, resource)) is not None:
        return _deny("incomplete-resource", why[0], **why[1])
    if not permits(subject, action):
        if action in CONTENT and subject.role in THREE_ROLES:
            return _deny("three-role-separation", "three_roles", role=subject.role.value)
        if action is Action.record_original and subject.role is Role.supervisor:
            return _deny("watermarked-copy", "watermarked_copy")
        return _deny("role", "role", role=subject.role.value, action=action.value)
    if action in NOT_BY_REQUESTER and resource.owner is not None and resource.owner == subject.username:
        return _deny("own-request", "own_request")
    if subject.role is Role.applicant and action not in NEEDS_NO_OWNER and resource.owner != subject.username:
        return _deny("own-requests-only", "applicant_own")
    if action is Action.user_role and resource.owner == subject.username:
        return _deny("own-account", "own_account")
    if action in ACCOUNT_CHANGES and resource.account_roles & THREE_ROLES:
        # Else a security administrator could make a second one, or reset a system administrator's
        # or an auditor's password, and sign in as them: one person holding two of the three roles.
        return _deny("admin-account", "admin_account")
    if action is Action.retrieval_read and resource.owner != subject.username:
        return _deny("own-requests-only", "retrieval_own")
    if (
        action is Action.disclosure_assign
        and subject.role is Role.disclosure_officer
        and (resource.assignee is not None or resource.assign_to != subject.username)
    ):
        return _deny("take-unassigned", "take_unassigned")
    if (
        action is Action.disclosure_remind
        and subject.role is Role.disclosure_officer
        and resource.assignee not in {None, subject.username}
    ):
        return _deny("assigned-officer", "reminded_own")
    if action in ASSIGNED_ONLY and resource.assignee != subject.username:
        return _deny("assigned-officer", "assigned_only")
    if action is Action.disclosure_release and resource.classification == "state_secret":
        return _deny("state-secret", "state_secret")
    if action is Action.disclosure_release_view and (
        resource.available_until is None or context.now >= resource.available_until
    ):
        return _deny("release-period", "release_period")
    if resource.classification == "state_secret" and action in MATERIAL:
        grade = resource.grade or "top_secret"  # typed optional; _incomplete refused a secret without one
        if CLEARANCE_RANK[subject.clearance.value] < CLEARANCE_RANK[grade]:
            return _deny("clearance", "clearance", grade=grade, clearance=subject.clearance.value)
    if subject.role is Role.supervisor and action in GRANT_NEEDS:  # always on a bundle: _incomplete
        return _grant_for(subject, action, resource, context)
    return Decision(True, "role", f"role {subject.role.value} may {action.value}")


def above_clearance(subject: Subject, resource: Resource, context: Context, decision: Decision) -> bool:
    """Refused `bundle.read` for clearance alone — the subject, cleared, would be allowed: the
    material may be listed with its title and findings withheld."""
    if decision.allowed or decision.rule != "clearance":
        return False
    cleared = replace(subject, clearance=Clearance.top_secret)
    return decide(cleared, Action.bundle_read, resource, context).allowed


def grant_scopes(grants: Iterable[RetrievalGrant]) -> tuple[GrantScope, ...]:
    """The decision-relevant view of grant rows."""
    return tuple(
        GrantScope(
            g.id, g.bundle_id, tuple(g.record_ids), tuple(g.actions), g.starts_at, g.expires_at, g.revoked_at
        )
        for g in grants
    )


def load_grants(session: Session, *, user_id: int | None) -> tuple[GrantScope, ...]:
    """Every grant a user holds, live or not (decide says which apply)."""
    if user_id is None:
        return ()
    rows = session.scalars(select(RetrievalGrant).where(RetrievalGrant.grantee_id == user_id))
    return grant_scopes(rows)


class Denied(ArchiveError):
    """An action the policy refused; the refusal is already in the ledger."""

    def __init__(self, decision: Decision) -> None:
        super().__init__(f"refused by rule {decision.rule}: {decision.reason}")
        self.decision = decision


def record(
    session: Session,
    *,
    subject: Subject,
    action: Action,
    resource: Resource,
    context: Context,
    decision: Decision,
    outcome: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Ledger a decision in the caller's transaction; `outcome` may say how an allowed action ended."""
    ledger.append(
        session,
        actor=subject.username,
        action=action.value,
        outcome=(outcome or "allowed") if decision.allowed else "denied",
        case_no=resource.case_no,
        bundle_id=resource.bundle_id,
        record_id=resource.record_id,
        source=context.source,
        detail={
            "rule": decision.rule,
            "reason": decision.reason,
            "role": subject.role.value,
            **({"grant": decision.grant_id} if decision.grant_id else {}),
            **(detail or {}),
        },
        at=context.now,
    )


def require(
    session: Session,
    *,
    subject: Subject,
    action: Action,
    resource: Resource,
    context: Context,
    detail: dict[str, Any] | None = None,
) -> Decision:
    """Decide; a refusal is ledgered (with `detail`) and committed at once, then raised. The caller
    ledgers success."""
    decision = decide(subject, action, resource, context)
    if not decision.allowed:
        record(
            session,
            subject=subject,
            action=action,
            resource=resource,
            context=context,
            decision=decision,
            detail=detail,
        )
        session.commit()
        raise Denied(decision)
    return decision


def enforce(
    session: Session,
    *,
    subject: Subject,
    action: Action,
    resource: Resource,
    context: Context,
    detail: dict[str, Any] | None = None,
) -> Decision:
    """Decide and ledger the decision (with `detail`), allowed or denied, in the caller's transaction."""
    decision = decide(subject, action, resource, context)
    record(
        session,
        subject=subject,
        action=action,
        resource=resource,
        context=context,
        decision=decision,
        detail=detail,
    )
    return decision
