"""Ledger search indexes that carry seq, so filtered pages never scan the table backwards.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


COLUMNS = ("actor", "action", "outcome", "case_no")


def upgrade() -> None:
    # Plain index operations: a batch (table copy) on SQLite would drop the append-only triggers.
    for name in ("action", "actor", "case_no"):
        op.drop_index(f"ix_ledger_entries_{name}", table_name="ledger_entries")
    for name in COLUMNS:
        op.create_index(f"ix_ledger_entries_{name}_seq", "ledger_entries", [name, "seq"])


def downgrade() -> None:
    for name in COLUMNS:
        op.drop_index(f"ix_ledger_entries_{name}_seq", table_name="ledger_entries")
    for name in ("action", "actor", "case_no"):
        op.create_index(f"ix_ledger_entries_{name}", "ledger_entries", [name])
