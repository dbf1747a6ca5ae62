"""Checkpoints in C2SP signed-note form and witnesses' cosignatures on them, append-only.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

import sqlalchemy as sa

from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

TABLES = ("ledger_notes", "ledger_cosignatures")


def _sqlite_triggers(table: str) -> list[str]:
    return [
        f"""CREATE TRIGGER {table}_no_{name.lower()} BEFORE {name} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only: {name} refused'); END"""
        for name in ("UPDATE", "DELETE")
    ]


def _postgresql_triggers(table: str) -> list[str]:
    return [
        f"""CREATE FUNCTION {table}_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{table} is append-only: % refused', TG_OP; END $$""",
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
        FOR EACH ROW EXECUTE FUNCTION {table}_refuse_change()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
        FOR EACH STATEMENT EXECUTE FUNCTION {table}_refuse_change()""",
    ]


def upgrade() -> None:
    op.create_table('ledger_notes',
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_ledger_notes'))
    )
    op.create_table('ledger_cosignatures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('witness', sa.String(length=255), nullable=False),
    sa.Column('key_id', sa.String(length=8), nullable=False),
    sa.Column('cosigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('line', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_cosignatures'))
    )
    with op.batch_alter_table('ledger_cosignatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_cosignatures_tree_size'), ['tree_size'], unique=False)
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        for statement in _postgresql_triggers(table) if postgres else _sqlite_triggers(table):
            op.execute(statement)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        if postgres:
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP FUNCTION {table}_refuse_change()")
        else:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
    with op.batch_alter_table('ledger_cosignatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_cosignatures_tree_size'))
    op.drop_table('ledger_cosignatures')
    op.drop_table('ledger_notes')
