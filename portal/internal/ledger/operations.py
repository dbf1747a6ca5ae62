"""Ledger operations the command line and the serve loop run: sign a checkpoint when one is
due, walk the chain against the checkpoints' locked copies."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from access import chain, checkpoints, witnessing
from portal.wiring import Wired, retired_ledger_note_keys


def verify_ledger(wired: Wired) -> chain.ChainReport:
    """Walk the whole ledger chain and check every signed checkpoint against the locked copies."""
    with wired.sessions() as session:
        return verify_against_store(wired, session=session)


def verify_against_store(wired: Wired, *, session: Session) -> chain.ChainReport:
    """`chain.verify_with_store` with this archive's store, keys and retention, every checkpoint
    note checked against the checkpoint keys (current and rotated out), and the witnesses'
    cosignatures checked against their configured keys."""
    report = chain.verify_with_store(
        session,
        store=wired.store,
        jwks=wired.keyring.jwks(),
        retain_for=wired.settings.checkpoint_retention,
    )
    key = wired.note_key
    bad_note = witnessing.check_notes(
        session, key=key.verifier, retired=retired_ledger_note_keys(wired.settings)
    )
    if bad_note is not None and report.first_bad_checkpoint is None:
        said = f"checkpoint at {bad_note[0]} entries: {bad_note[1]}"
        report = replace(
            report,
            intact=False,
            reason=report.reason or said,
            first_bad_checkpoint=bad_note[0],
            checkpoint_reason=said,
        )
    found = witnessing.check_cosignatures(session, origin=key.name, witnesses=wired.witnesses)
    return replace(report, cosignatures=tuple(c.as_json() for c in found))


def checkpoint_ledger(wired: Wired, *, force: bool = False) -> checkpoints.LedgerCheckpoint | None:
    """Sign a ledger checkpoint if one is due (forced: whenever there are new entries), put it in
    note form and send it to the witnesses."""
    return checkpoint_and_witness(wired, force=force)[0]


def checkpoint_and_witness(
    wired: Wired, *, force: bool = False
) -> tuple[checkpoints.LedgerCheckpoint | None, list[witnessing.WitnessAnswer]]:
    """`checkpoint_ledger`, with what each witness answered."""
    with wired.sessions() as session:
        made = checkpoints.maybe_checkpoint(
            session,
            keyring=wired.keyring,
            every_entries=wired.settings.checkpoint_every_entries,
            every_minutes=wired.settings.checkpoint_every_minutes,
            now=wired.clock(),
            force=force,
        )
        try:
            session.commit()
        except IntegrityError:
            # Another process signed the same tree size a moment earlier; that one stands.
            session.rollback()
            made = None
        # After the commit, so no copy is locked for a checkpoint that never was; a crash before
        # this line leaves it to the next round (or verify) to copy.
        checkpoints.publish_pending(
            session,
            store=wired.store,
            jwks=wired.keyring.jwks(),
            retain_for=wired.settings.checkpoint_retention,
        )
    with wired.sessions() as session:  # a session of its own: the witness calls roll back between rounds
        answers = note_and_witness(wired, session=session, retry=force)
    return made, answers


def note_and_witness(
    wired: Wired, *, session: Session, retry: bool = False
) -> list[witnessing.WitnessAnswer]:
    """Sign in note form the checkpoints that lack it, then offer the newest to the witnesses."""
    try:
        witnessing.write_notes(session, key=wired.note_key, jwks=wired.keyring.jwks())
        session.commit()
    except IntegrityError:
        session.rollback()  # another process wrote the same notes: theirs stand (Ed25519 is deterministic)
    return witnessing.submit_latest(session, witnesses=wired.witnesses, retry=retry)
