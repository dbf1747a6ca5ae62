"""Retention schedule (保管期限表) as data: versions, rules, the bundles each change moved; seeds version 1.

Version 1 keeps today's behaviour for case files (no rule names them, so they keep
CASEVAULT_RETENTION_YEARS from closing) and adds the two footage rules of the regulations
(docs/retention.md says where each comes from).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


SEED_RULES = [
    {
        'code': 'R1',
        'title': '未作为证据使用的执法音像记录',
        'kind': 'av',
        'doc_type': None,
        'evidence': False,
        'term': 'months',
        'count': 6,
        'basis': '公安机关现场执法视音频记录工作规定 第十三条：保存期限不少于六个月',
    },
    {
        'code': 'R2',
        'title': '作为证据使用的执法音像记录',
        'kind': 'av',
        'doc_type': None,
        'evidence': True,
        'term': 'with_case',
        'count': None,
        'basis': '行政执法全过程记录制度 第十七条：刻录光盘附卷，随案卷长期保存',
    },
]


def upgrade() -> None:
    versions = op.create_table('retention_schedule_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('based_on', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('change', sa.String(length=16), nullable=False),
    sa.Column('rule_code', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['based_on'], ['retention_schedule_versions.id'], name=op.f('fk_retention_schedule_versions_based_on_retention_schedule_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_schedule_versions')),
    sa.UniqueConstraint('based_on', name=op.f('uq_retention_schedule_versions_based_on'))
    )
    rules = op.create_table('retention_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=256), nullable=False),
    sa.Column('enforcement_type', sa.String(length=32), nullable=True),
    sa.Column('kind', sa.String(length=8), nullable=True),
    sa.Column('doc_type', sa.String(length=32), nullable=True),
    sa.Column('evidence', sa.Boolean(), nullable=True),
    sa.Column('term', sa.String(length=16), nullable=False),
    sa.Column('count', sa.Integer(), nullable=True),
    sa.Column('counts_from', sa.String(length=16), nullable=False),
    sa.Column('basis', sa.String(length=256), nullable=False),
    sa.ForeignKeyConstraint(['version_id'], ['retention_schedule_versions.id'], name=op.f('fk_retention_rules_version_id_retention_schedule_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_rules')),
    sa.UniqueConstraint('version_id', 'code', name=op.f('uq_retention_rules_version_id'))
    )
    with op.batch_alter_table('retention_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_rules_version_id'), ['version_id'], unique=False)

    op.create_table('retention_schedule_moves',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('bundle_id', sa.String(length=32), nullable=False),
    sa.Column('old_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('new_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lock_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['bundle_id'], ['bundles.id'], name=op.f('fk_retention_schedule_moves_bundle_id_bundles')),
    sa.ForeignKeyConstraint(['version_id'], ['retention_schedule_versions.id'], name=op.f('fk_retention_schedule_moves_version_id_retention_schedule_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_retention_schedule_moves')),
    sa.UniqueConstraint('version_id', 'bundle_id', name=op.f('uq_retention_schedule_moves_version_id'))
    )
    with op.batch_alter_table('retention_schedule_moves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retention_schedule_moves_bundle_id'), ['bundle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_retention_schedule_moves_version_id'), ['version_id'], unique=False)

    seeded = datetime(2026, 12, 3, tzinfo=timezone.utc)
    op.bulk_insert(versions, [{
        'id': 1,
        'based_on': None,
        'created_at': seeded,
        'created_by': 'casevault migrate',
        'reason': '初始保管期限表：案卷按配置的保管期限，执法音像记录按规定',
        'change': 'seed',
        'rule_code': None,
    }])
    op.bulk_insert(rules, [
        {**rule, 'version_id': 1, 'enforcement_type': None, 'counts_from': 'closed_at'} for rule in SEED_RULES
    ])
    if op.get_bind().dialect.name == 'postgresql':
        # The seed's explicit id leaves the sequence behind; the next version is 2.
        op.execute(
            "SELECT setval(pg_get_serial_sequence('retention_schedule_versions', 'id'), 1)"
        )


def downgrade() -> None:
    with op.batch_alter_table('retention_schedule_moves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_schedule_moves_version_id'))
        batch_op.drop_index(batch_op.f('ix_retention_schedule_moves_bundle_id'))

    op.drop_table('retention_schedule_moves')
    with op.batch_alter_table('retention_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retention_rules_version_id'))

    op.drop_table('retention_rules')
    op.drop_table('retention_schedule_versions')
