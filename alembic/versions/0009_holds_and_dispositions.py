"""Legal holds, disposition lists with their approvals, and tombstones that refuse UPDATE and DELETE.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

REFUSED = "tombstones are kept forever"
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER tombstones_no_update BEFORE UPDATE ON tombstones
    BEGIN SELECT RAISE(ABORT, '{REFUSED}: UPDATE refused'); END""",
    f"""CREATE TRIGGER tombstones_no_delete BEFORE DELETE ON tombstones
    BEGIN SELECT RAISE(ABORT, '{REFUSED}: DELETE refused'); END""",
]
PG_TRIGGERS = [
    f"""CREATE FUNCTION tombstones_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '{REFUSED}: % refused', TG_OP; END $$""",
    """CREATE TRIGGER tombstones_refuse BEFORE UPDATE OR DELETE ON tombstones
    FOR EACH ROW EXECUTE FUNCTION tombstones_refuse()""",
    """CREATE TRIGGER tombstones_refuse_truncate BEFORE TRUNCATE ON tombstones
    FOR EACH STATEMENT EXECUTE FUNCTION tombstones_refuse()""",
]


def upgrade() -> None:
    op.create_table('dispositions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('years', sa.Integer(), nullable=True),
    sa.Column('opinion', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('proposed_by', sa.String(length=128), nullable=False),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('executed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('certificate_no', sa.String(length=32), nullable=True),
    sa.Column('certificate', sa.JSON(), nullable=True),
    sa.Column('certificate_jws', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispositions')),
    sa.UniqueConstraint('certificate_no', name=op.f('uq_dispositions_certificate_no'))
    )
    with op.batch_alter_table('dispositions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispositions_status'), ['status'], unique=False)

    op.create_table('disposition_approvals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('disposition_id', sa.Integer(), nullable=False),
    sa.Column('manager', sa.String(length=128), nullable=False),
    sa.Column('approve', sa.Boolean(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('witnesses', sa.JSON(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['disposition_id'], ['dispositions.id'], name=op.f('fk_disposition_approvals_disposition_id_dispositions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disposition_approvals')),
    sa.UniqueConstraint('disposition_id', 'manager', name=op.f('uq_disposition_approvals_disposition_id'))
    )
    with op.batch_alter_table('disposition_approvals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disposition_approvals_disposition_id'), ['disposition_id'], unique=False)

    op.create_table('disposition_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('disposition_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_disposition_items_case_id_cases')),
    sa.ForeignKeyConstraint(['disposition_id'], ['dispositions.id'], name=op.f('fk_disposition_items_disposition_id_dispositions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disposition_items')),
    sa.UniqueConstraint('disposition_id', 'case_id', name=op.f('uq_disposition_items_disposition_id'))
    )
    with op.batch_alter_table('disposition_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disposition_items_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disposition_items_disposition_id'), ['disposition_id'], unique=False)

    op.create_table('legal_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=256), nullable=False),
    sa.Column('mandate', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('placed_by', sa.String(length=128), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disclosure_request_id', sa.Integer(), nullable=True),
    sa.Column('lifted_by', sa.String(length=128), nullable=True),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lift_reason', sa.Text(), nullable=True),
    sa.Column('objects_synced', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_legal_holds_case_id_cases')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_legal_holds'))
    )
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_legal_holds_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_legal_holds_disclosure_request_id'), ['disclosure_request_id'], unique=False)

    op.create_table('tombstones',
    sa.Column('bundle_id', sa.String(length=32), nullable=False),
    sa.Column('case_no', sa.String(length=128), nullable=False),
    sa.Column('title', sa.String(length=512), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('seal_digest', sa.String(length=64), nullable=False),
    sa.Column('tagmanifest_sha256', sa.String(length=64), nullable=False),
    sa.Column('payload_files', sa.Integer(), nullable=False),
    sa.Column('payload_bytes', sa.BigInteger(), nullable=False),
    sa.Column('retain_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rule', sa.String(length=256), nullable=False),
    sa.Column('approvals', sa.JSON(), nullable=False),
    sa.Column('disposition_id', sa.Integer(), nullable=False),
    sa.Column('certificate_no', sa.String(length=32), nullable=False),
    sa.Column('destroyed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['disposition_id'], ['dispositions.id'], name=op.f('fk_tombstones_disposition_id_dispositions')),
    sa.PrimaryKeyConstraint('bundle_id', name=op.f('pk_tombstones'))
    )
    with op.batch_alter_table('tombstones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tombstones_case_no'), ['case_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_tombstones_disposition_id'), ['disposition_id'], unique=False)

    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in PG_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS tombstones_refuse_truncate ON tombstones")
        op.execute("DROP TRIGGER IF EXISTS tombstones_refuse ON tombstones")
        op.execute("DROP FUNCTION IF EXISTS tombstones_refuse()")
    else:
        op.execute("DROP TRIGGER IF EXISTS tombstones_no_update")
        op.execute("DROP TRIGGER IF EXISTS tombstones_no_delete")
    with op.batch_alter_table('tombstones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tombstones_disposition_id'))
        batch_op.drop_index(batch_op.f('ix_tombstones_case_no'))

    op.drop_table('tombstones')
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_legal_holds_disclosure_request_id'))
        batch_op.drop_index(batch_op.f('ix_legal_holds_case_id'))

    op.drop_table('legal_holds')
    with op.batch_alter_table('disposition_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disposition_items_disposition_id'))
        batch_op.drop_index(batch_op.f('ix_disposition_items_case_id'))

    op.drop_table('disposition_items')
    with op.batch_alter_table('disposition_approvals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disposition_approvals_disposition_id'))

    op.drop_table('disposition_approvals')
    with op.batch_alter_table('dispositions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dispositions_status'))

    op.drop_table('dispositions')
