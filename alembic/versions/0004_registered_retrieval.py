"""Registered retrieval (调取登记): requests, and grants linked to them and revocable with a reason.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('retrieval_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requester_id', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=32), nullable=True),
    sa.Column('case_no', sa.String(length=128), nullable=False),
    sa.Column('bundle_id', sa.String(length=32), nullable=False),
    sa.Column('record_ids', sa.JSON(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decider_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_retrieval_requests_bundle_id_bundles')),
    sa.ForeignKeyConstraint(['decider_id'], ['users.id'], name=op.f('fk_retrieval_requests_decider_id_users')),
    sa.ForeignKeyConstraint(['requester_id'], ['users.id'], name=op.f('fk_retrieval_requests_requester_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retrieval_requests'))
    )
    with op.batch_alter_table('retrieval_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retrieval_requests_bundle_id'), ['bundle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retrieval_requests_case_no'), ['case_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_retrieval_requests_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_retrieval_requests_department'), ['department'], unique=False)
        batch_op.create_index(batch_op.f('ix_retrieval_requests_requester_id'), ['requester_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retrieval_requests_status'), ['status'], unique=False)

    with op.batch_alter_table('retrieval_grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('request_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('revoked_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('revoke_reason', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_retrieval_grants_request_id'), ['request_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_retrieval_grants_request_id_retrieval_requests'), 'retrieval_requests', ['request_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_retrieval_grants_revoked_by_id_users'), 'users', ['revoked_by_id'], ['id'])



def downgrade() -> None:

    with op.batch_alter_table('retrieval_grants', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_retrieval_grants_revoked_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_retrieval_grants_request_id_retrieval_requests'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_retrieval_grants_request_id'))
        batch_op.drop_column('revoke_reason')
        batch_op.drop_column('revoked_by_id')
        batch_op.drop_column('request_id')

    with op.batch_alter_table('retrieval_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retrieval_requests_status'))
        batch_op.drop_index(batch_op.f('ix_retrieval_requests_requester_id'))
        batch_op.drop_index(batch_op.f('ix_retrieval_requests_department'))
        batch_op.drop_index(batch_op.f('ix_retrieval_requests_created_at'))
        batch_op.drop_index(batch_op.f('ix_retrieval_requests_case_no'))
        batch_op.drop_index(batch_op.f('ix_retrieval_requests_bundle_id'))

    op.drop_table('retrieval_requests')
