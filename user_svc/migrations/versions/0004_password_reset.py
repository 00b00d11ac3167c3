"""password reset

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 15:00:00

POST /auth/password/forgot mails a single-use link (valid 30 minutes); POST
/auth/password/reset spends it. One link per account at a time: a new request replaces
the last one.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('reset_hash', sa.String(length=64), nullable=True))
    op.add_column('users', sa.Column('reset_expires_at', sa.DateTime(timezone=True),
                                     nullable=True))
    op.create_unique_constraint('users_reset_hash_key', 'users', ['reset_hash'])


def downgrade() -> None:
    op.drop_constraint('users_reset_hash_key', 'users', type_='unique')
    op.drop_column('users', 'reset_expires_at')
    op.drop_column('users', 'reset_hash')
