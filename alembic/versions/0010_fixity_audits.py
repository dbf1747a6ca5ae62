"""Fixity audits: per-bundle audit state and the alerts a failed audit raises.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

import sqlalchemy as sa

from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_states',
    sa.Column('bundle_id', sa.String(length=32), nullable=False),
    sa.Column('last_audited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_outcome', sa.String(length=16), nullable=True),
    sa.Column('failures', sa.JSON(), nullable=False),
    sa.Column('audits', sa.Integer(), nullable=False),
    sa.Column('failed_audits', sa.Integer(), nullable=False),
    sa.Column('claimed_by', sa.String(length=128), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_audit_states_bundle_id_bundles')),
    sa.PrimaryKeyConstraint('bundle_id', name=op.f('pk_audit_states'))
    )
    with op.batch_alter_table('audit_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_states_last_audited_at'), ['last_audited_at'], unique=False)

    op.create_table('fixity_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bundle_id', sa.String(length=32), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failures', sa.JSON(), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=128), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_fixity_alerts_bundle_id_bundles')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fixity_alerts'))
    )
    with op.batch_alter_table('fixity_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fixity_alerts_bundle_id'), ['bundle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fixity_alerts_acknowledged_at'), ['acknowledged_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fixity_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fixity_alerts_acknowledged_at'))
        batch_op.drop_index(batch_op.f('ix_fixity_alerts_bundle_id'))
    op.drop_table('fixity_alerts')
    with op.batch_alter_table('audit_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_states_last_audited_at'))
    op.drop_table('audit_states')
