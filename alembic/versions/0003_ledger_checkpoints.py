"""Ledger checkpoints: signed Merkle tree heads over the access ledger, append-only.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


APPEND_ONLY_SQLITE = [
    f"""CREATE TRIGGER ledger_checkpoints_no_{op_name.lower()} BEFORE {op_name} ON ledger_checkpoints
    BEGIN SELECT RAISE(ABORT, 'ledger_checkpoints is append-only: {op_name} refused'); END"""
    for op_name in ("UPDATE", "DELETE")
]
APPEND_ONLY_POSTGRESQL = [
    """CREATE FUNCTION ledger_checkpoints_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'ledger_checkpoints is append-only: % refused', TG_OP; END $$""",
    """CREATE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger_checkpoints_refuse_change()""",
    """CREATE TRIGGER ledger_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_checkpoints_refuse_change()""",
]


def upgrade() -> None:

    op.create_table('ledger_checkpoints',
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('tree_size', name=op.f('pk_ledger_checkpoints'))
    )
    dialect = op.get_bind().dialect.name
    for statement in APPEND_ONLY_POSTGRESQL if dialect == "postgresql" else APPEND_ONLY_SQLITE:
        op.execute(statement)



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_checkpoints_no_truncate ON ledger_checkpoints")
        op.execute("DROP TRIGGER ledger_checkpoints_append_only ON ledger_checkpoints")
        op.execute("DROP FUNCTION ledger_checkpoints_refuse_change()")
    else:
        op.execute("DROP TRIGGER ledger_checkpoints_no_update")
        op.execute("DROP TRIGGER ledger_checkpoints_no_delete")

    op.drop_table('ledger_checkpoints')
