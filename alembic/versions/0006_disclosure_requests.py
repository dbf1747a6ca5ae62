"""Information-disclosure requests (依申请公开): applicants, requests, messages, released items, holiday table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('holiday_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('workday', sa.Boolean(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_holiday_days'))
    )
    with op.batch_alter_table('holiday_days', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_holiday_days_year'), ['year'], unique=False)

    op.create_table('holiday_years',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('entered_by', sa.String(length=64), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_holiday_years'))
    )
    op.create_table('applicants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('id_type', sa.String(length=24), nullable=False),
    sa.Column('id_number_sealed', sa.Text(), nullable=False),
    sa.Column('id_number_masked', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('address', sa.String(length=512), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_applicants_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_applicants')),
    sa.UniqueConstraint('user_id', name=op.f('uq_applicants_user_id'))
    )
    op.create_table('disclosure_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tracking_code', sa.String(length=24), nullable=False),
    sa.Column('applicant_id', sa.Integer(), nullable=False),
    sa.Column('relation', sa.String(length=24), nullable=False),
    sa.Column('case_no', sa.String(length=128), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('delivery', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('clock_from', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('correction_asked_on', sa.Date(), nullable=True),
    sa.Column('correction_asked', sa.Text(), nullable=True),
    sa.Column('correct_by', sa.Date(), nullable=True),
    sa.Column('corrected_on', sa.Date(), nullable=True),
    sa.Column('correction', sa.Text(), nullable=True),
    sa.Column('consultation_party', sa.String(length=256), nullable=True),
    sa.Column('consultation_from', sa.Date(), nullable=True),
    sa.Column('consultation_until', sa.Date(), nullable=True),
    sa.Column('consultation_ended_on', sa.Date(), nullable=True),
    sa.Column('consultation_reply', sa.Text(), nullable=True),
    sa.Column('extension_days', sa.Integer(), nullable=True),
    sa.Column('extension_reason', sa.Text(), nullable=True),
    sa.Column('extension_requested_by_id', sa.Integer(), nullable=True),
    sa.Column('extension_status', sa.String(length=16), nullable=True),
    sa.Column('extension_decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision', sa.String(length=24), nullable=True),
    sa.Column('decision_basis', sa.String(length=24), nullable=True),
    sa.Column('reasons', sa.Text(), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('release_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['applicant_id'], ['applicants.id'], name=op.f('fk_disclosure_requests_applicant_id_applicants')),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_disclosure_requests_assignee_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_disclosure_requests_decided_by_id_users')),
    sa.ForeignKeyConstraint(['extension_decided_by_id'], ['users.id'], name=op.f('fk_disclosure_requests_extension_decided_by_id_users')),
    sa.ForeignKeyConstraint(['extension_requested_by_id'], ['users.id'], name=op.f('fk_disclosure_requests_extension_requested_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_requests')),
    sa.UniqueConstraint('tracking_code', name=op.f('uq_disclosure_requests_tracking_code'))
    )
    with op.batch_alter_table('disclosure_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_requests_applicant_id'), ['applicant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_requests_assignee_id'), ['assignee_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_requests_case_no'), ['case_no'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_requests_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_requests_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_requests_status'), ['status'], unique=False)

    op.create_table('disclosure_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('from_office', sa.Boolean(), nullable=False),
    sa.Column('author', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['disclosure_requests.id'], name=op.f('fk_disclosure_messages_request_id_disclosure_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_disclosure_messages'))
    )
    with op.batch_alter_table('disclosure_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_messages_request_id'), ['request_id'], unique=False)

    op.create_table('released_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('bundle_id', sa.String(length=32), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=512), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=255), nullable=False),
    sa.Column('key', sa.String(length=1200), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('redacted', sa.Boolean(), nullable=False),
    sa.Column('original_sha256', sa.String(length=64), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_released_items_bundle_id_bundles')),
    sa.ForeignKeyConstraint(['request_id'], ['disclosure_requests.id'], name=op.f('fk_released_items_request_id_disclosure_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_released_items'))
    )
    with op.batch_alter_table('released_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_released_items_request_id'), ['request_id'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('released_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_released_items_request_id'))

    op.drop_table('released_items')
    with op.batch_alter_table('disclosure_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_messages_request_id'))

    op.drop_table('disclosure_messages')
    with op.batch_alter_table('disclosure_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_requests_status'))
        batch_op.drop_index(batch_op.f('ix_disclosure_requests_due_on'))
        batch_op.drop_index(batch_op.f('ix_disclosure_requests_created_at'))
        batch_op.drop_index(batch_op.f('ix_disclosure_requests_case_no'))
        batch_op.drop_index(batch_op.f('ix_disclosure_requests_assignee_id'))
        batch_op.drop_index(batch_op.f('ix_disclosure_requests_applicant_id'))

    op.drop_table('disclosure_requests')
    op.drop_table('applicants')
    op.drop_table('holiday_years')
    with op.batch_alter_table('holiday_days', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_holiday_days_year'))

    op.drop_table('holiday_days')

