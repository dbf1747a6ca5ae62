"""The published list of enforcement activities recorded on video (rules art. 12), seeded.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from datetime import UTC, datetime

import sqlalchemy as sa

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

ART12 = "《行政执法全过程记录制度》第十二条：容易引发争议的行政执法过程，进行音像记录。"
MAJOR = (
    "《行政执法全过程记录制度》第十二条：直接涉及重大财产权益的现场执法活动，"
    "应当进行全过程无间断音像记录（第十四条第二项：自到达执法现场时开始，至离开时结束）。"
)
# The AV `activity` values art. 12 names (archive/sip.py `Activity`), in the rules' order.
SEED = (
    ("on_site_inspection", "现场检查", "On-site inspection", False, ART12),
    ("random_inspection", "随机抽查", "Random inspection", False, ART12),
    ("evidence_collection", "调查取证", "Evidence collection", False, ART12),
    ("evidence_preservation", "证据保全", "Evidence preservation", True, MAJOR),
    ("hearing", "听证", "Hearing", False, ART12),
    ("coercion", "行政强制", "Administrative coercion", True, MAJOR),
    ("service", "送达", "Service of documents", False, ART12),
)


def upgrade() -> None:
    table = op.create_table('recorded_activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=48), nullable=False),
    sa.Column('name_zh', sa.String(length=128), nullable=False),
    sa.Column('name_en', sa.String(length=128), nullable=False),
    sa.Column('continuous', sa.Boolean(), nullable=False),
    sa.Column('basis', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('changed_by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recorded_activities')),
    sa.UniqueConstraint('code', name=op.f('uq_recorded_activities_code'))
    )
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        now = now.replace(tzinfo=None)  # as UTCDateTime keeps it there
    op.bulk_insert(table, [
        {
            "code": code, "name_zh": zh, "name_en": en, "continuous": continuous, "basis": basis,
            "position": n, "published": True, "changed_at": now, "changed_by": "migration",
            "reason": "《行政执法全过程记录制度》第十二条所列音像记录范围",
        }
        for n, (code, zh, en, continuous, basis) in enumerate(SEED, start=1)
    ])


def downgrade() -> None:
    op.drop_table('recorded_activities')
