"""Ledger head moves only forward: no rewind, no rewritten hash, no second row, no delete or truncate.

Entries (0001) and checkpoints (0003) already refuse UPDATE, DELETE and TRUNCATE.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


REFUSED = "ledger_head moves only forward"
FORWARD_ONLY_SQLITE = [
    f"""CREATE TRIGGER ledger_head_no_rewind BEFORE UPDATE ON ledger_head
    WHEN NEW.id IS NOT OLD.id OR NEW.seq < OLD.seq
        OR (NEW.seq = OLD.seq AND NEW.entry_hash IS NOT OLD.entry_hash)
    BEGIN SELECT RAISE(ABORT, '{REFUSED}: UPDATE to an earlier or rewritten head refused'); END""",
    f"""CREATE TRIGGER ledger_head_no_delete BEFORE DELETE ON ledger_head
    BEGIN SELECT RAISE(ABORT, '{REFUSED}: DELETE refused'); END""",
    f"""CREATE TRIGGER ledger_head_one_row BEFORE INSERT ON ledger_head
    WHEN EXISTS (SELECT 1 FROM ledger_head)
    BEGIN SELECT RAISE(ABORT, '{REFUSED}: a second head row refused'); END""",
]
FORWARD_ONLY_POSTGRESQL = [
    f"""CREATE FUNCTION ledger_head_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            IF NEW.id IS DISTINCT FROM OLD.id OR NEW.seq < OLD.seq
               OR (NEW.seq = OLD.seq AND NEW.entry_hash IS DISTINCT FROM OLD.entry_hash) THEN
                RAISE EXCEPTION '{REFUSED}: seq % to % refused', OLD.seq, NEW.seq;
            END IF;
            RETURN NEW;
        END IF;
        IF TG_OP = 'INSERT' THEN
            IF EXISTS (SELECT 1 FROM ledger_head) THEN
                RAISE EXCEPTION '{REFUSED}: a second head row refused';
            END IF;
            RETURN NEW;
        END IF;
        RAISE EXCEPTION '{REFUSED}: % refused', TG_OP;
    END $$""",
    """CREATE TRIGGER ledger_head_forward_only BEFORE INSERT OR UPDATE OR DELETE ON ledger_head
    FOR EACH ROW EXECUTE FUNCTION ledger_head_forward_only()""",
    """CREATE TRIGGER ledger_head_no_truncate BEFORE TRUNCATE ON ledger_head
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_head_forward_only()""",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in FORWARD_ONLY_POSTGRESQL if dialect == "postgresql" else FORWARD_ONLY_SQLITE:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_head_no_truncate ON ledger_head")
        op.execute("DROP TRIGGER ledger_head_forward_only ON ledger_head")
        op.execute("DROP FUNCTION ledger_head_forward_only()")
    else:
        op.execute("DROP TRIGGER ledger_head_one_row")
        op.execute("DROP TRIGGER ledger_head_no_delete")
        op.execute("DROP TRIGGER ledger_head_no_rewind")
