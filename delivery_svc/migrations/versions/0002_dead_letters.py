"""dead letters kept in a table (common.deadletters)

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'dead_letters',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('queue', sa.String(length=255), nullable=False),
        sa.Column('message_id', sa.String(length=64), nullable=True),
        sa.Column('event_type', sa.String(length=64), nullable=True),
        sa.Column('event_id', sa.String(length=64), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=True),
        sa.Column('failed_at', sa.String(length=40), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('headers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('kept_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('queue', 'message_id', name='uq_dead_letters_message'),
    )


def downgrade() -> None:
    op.drop_table('dead_letters')
