"""Archive core: cases, sealed bundles, their files and records, and the access ledger.

Revision ID: 0001
Revises: 
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


APPEND_ONLY_SQLITE = [
    f"""CREATE TRIGGER ledger_entries_no_{op_name.lower()} BEFORE {op_name} ON ledger_entries
    BEGIN SELECT RAISE(ABORT, 'ledger_entries is append-only: {op_name} refused'); END"""
    for op_name in ("UPDATE", "DELETE")
]
APPEND_ONLY_POSTGRESQL = [
    """CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION 'ledger_entries is append-only: % refused', TG_OP; END $$""",
    """CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()""",
    """CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()""",
]


def upgrade() -> None:

    op.create_table('cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_no', sa.String(length=128), nullable=False),
    sa.Column('title', sa.String(length=512), nullable=False),
    sa.Column('enforcement_type', sa.String(length=32), nullable=False),
    sa.Column('closed_at', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    sa.UniqueConstraint('case_no', name=op.f('uq_cases_case_no'))
    )
    op.create_table('ledger_entries',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('case_no', sa.String(length=128), nullable=True),
    sa.Column('bundle_id', sa.String(length=32), nullable=True),
    sa.Column('record_id', sa.String(length=64), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('entry_hash', name=op.f('uq_ledger_entries_entry_hash'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entries_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_case_no'), ['case_no'], unique=False)

    op.create_table('ledger_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_head'))
    )
    op.create_table('bundles',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('previous_id', sa.String(length=32), nullable=True),
    sa.Column('prefix', sa.String(length=128), nullable=False),
    sa.Column('classification', sa.String(length=32), nullable=False),
    sa.Column('grade', sa.String(length=16), nullable=True),
    sa.Column('digests', sa.String(length=64), nullable=False),
    sa.Column('payload_bytes', sa.BigInteger(), nullable=False),
    sa.Column('payload_files', sa.Integer(), nullable=False),
    sa.Column('tagmanifest_sha256', sa.String(length=64), nullable=False),
    sa.Column('seal_kid', sa.String(length=64), nullable=False),
    sa.Column('seal_digest', sa.String(length=64), nullable=False),
    sa.Column('sealed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sealed_by', sa.String(length=128), nullable=False),
    sa.Column('retain_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('findings', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_bundles_case_id_cases')),
    sa.ForeignKeyConstraint(['previous_id'], ['bundles.id'], name=op.f('fk_bundles_previous_id_bundles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bundles')),
    sa.UniqueConstraint('case_id', 'version', name=op.f('uq_bundles_case_id')),
    sa.UniqueConstraint('seal_digest', name=op.f('uq_bundles_seal_digest'))
    )
    with op.batch_alter_table('bundles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bundles_case_id'), ['case_id'], unique=False)

    op.create_table('bundle_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bundle_id', sa.String(length=32), nullable=False),
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('key', sa.String(length=1200), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('sm3', sa.String(length=64), nullable=True),
    sa.Column('version_id', sa.String(length=128), nullable=True),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_bundle_files_bundle_id_bundles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bundle_files')),
    sa.UniqueConstraint('bundle_id', 'path', name=op.f('uq_bundle_files_bundle_id'))
    )
    with op.batch_alter_table('bundle_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bundle_files_bundle_id'), ['bundle_id'], unique=False)

    op.create_table('case_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bundle_id', sa.String(length=32), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=1024), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('doc_type', sa.String(length=32), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=512), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('classification', sa.String(length=32), nullable=False),
    sa.Column('grade', sa.String(length=16), nullable=True),
    sa.Column('av', sa.JSON(), nullable=True),
    sa.Column('evidence', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_case_records_bundle_id_bundles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_records')),
    sa.UniqueConstraint('bundle_id', 'record_id', name=op.f('uq_case_records_bundle_id'))
    )
    with op.batch_alter_table('case_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_records_bundle_id'), ['bundle_id'], unique=False)

    op.execute(sa.text("INSERT INTO ledger_head (id, seq, entry_hash) VALUES (1, 0, :genesis)")
               .bindparams(genesis="0" * 64))
    dialect = op.get_bind().dialect.name
    for statement in APPEND_ONLY_POSTGRESQL if dialect == "postgresql" else APPEND_ONLY_SQLITE:
        op.execute(statement)



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_entries_no_truncate ON ledger_entries")
        op.execute("DROP TRIGGER ledger_entries_append_only ON ledger_entries")
        op.execute("DROP FUNCTION ledger_refuse_change()")
    else:
        op.execute("DROP TRIGGER ledger_entries_no_update")
        op.execute("DROP TRIGGER ledger_entries_no_delete")

    with op.batch_alter_table('case_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_records_bundle_id'))

    op.drop_table('case_records')
    with op.batch_alter_table('bundle_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bundle_files_bundle_id'))

    op.drop_table('bundle_files')
    with op.batch_alter_table('bundles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bundles_case_id'))

    op.drop_table('bundles')
    op.drop_table('ledger_head')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_case_no'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_at'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_actor'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_action'))

    op.drop_table('ledger_entries')
    op.drop_table('cases')

