"""What an insider with the database owner's rights can do around the ledger's triggers."""

from __future__ import annotations

from sqlalchemy import Connection, text

# The triggers that keep each ledger table append-only (the head: forward-only), per database.
TRIGGERS = {
    "postgresql": {
        "ledger_entries": ["ledger_entries_append_only"],
        "ledger_head": ["ledger_head_forward_only"],
        "ledger_checkpoints": ["ledger_checkpoints_append_only"],
        "ledger_notes": ["ledger_notes_append_only"],
        "ledger_cosignatures": ["ledger_cosignatures_append_only"],
    },
    "sqlite": {
        "ledger_entries": ["ledger_entries_no_update", "ledger_entries_no_delete"],
        "ledger_head": ["ledger_head_no_rewind", "ledger_head_no_delete"],
        "ledger_checkpoints": ["ledger_checkpoints_no_update", "ledger_checkpoints_no_delete"],
        "ledger_notes": ["ledger_notes_no_update", "ledger_notes_no_delete"],
        "ledger_cosignatures": ["ledger_cosignatures_no_update", "ledger_cosignatures_no_delete"],
    },
}


def drop_ledger_triggers(conn: Connection, *tables: str) -> None:
    """Drop the triggers that refuse changing or deleting rows of those ledger tables."""
    postgres = conn.dialect.name == "postgresql"
    for table in tables:
        for trigger in TRIGGERS[conn.dialect.name][table]:
            conn.execute(text(f"DROP TRIGGER {trigger}" + (f" ON {table}" if postgres else "")))
