"""Anomalies flagged from the ledger: the evaluation cursor, rule settings, rule state, flags.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

import sqlalchemy as sa

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    cursor = op.create_table('anomaly_cursor',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('evaluated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_anomaly_cursor'))
    )
    op.bulk_insert(cursor, [{'id': 1, 'seq': 0, 'evaluated_at': None}])
    op.create_table('anomaly_rules',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_anomaly_rules'))
    )
    op.create_table('anomaly_state',
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'key', name=op.f('pk_anomaly_state'))
    )
    op.create_table('anomaly_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=True),
    sa.Column('source', sa.String(length=64), nullable=True),
    sa.Column('case_no', sa.String(length=128), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=128), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_anomaly_flags')),
    sa.UniqueConstraint('kind', 'seq', name=op.f('uq_anomaly_flags_kind'))
    )
    with op.batch_alter_table('anomaly_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_anomaly_flags_acknowledged_at'), ['acknowledged_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_anomaly_flags_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_anomaly_flags_kind'), ['kind'], unique=False)
    op.create_table('anomaly_flag_entries',
    sa.Column('flag_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.ForeignKeyConstraint(['flag_id'], ['anomaly_flags.id'], name=op.f('fk_anomaly_flag_entries_flag_id_anomaly_flags')),
    sa.PrimaryKeyConstraint('flag_id', 'seq', name=op.f('pk_anomaly_flag_entries'))
    )


def downgrade() -> None:
    op.drop_table('anomaly_flag_entries')
    with op.batch_alter_table('anomaly_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_anomaly_flags_kind'))
        batch_op.drop_index(batch_op.f('ix_anomaly_flags_at'))
        batch_op.drop_index(batch_op.f('ix_anomaly_flags_acknowledged_at'))
    op.drop_table('anomaly_flags')
    op.drop_table('anomaly_state')
    op.drop_table('anomaly_rules')
    op.drop_table('anomaly_cursor')
