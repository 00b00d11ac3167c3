"""refresh_tokens.revoked_at index

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 14:10:00

The gateways ask user_svc every few seconds which sessions were revoked since their
last look (access tokens stop working within 5 s of a logout or a revocation).
"""
from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_refresh_tokens_revoked_at', 'refresh_tokens', ['revoked_at'])


def downgrade() -> None:
    op.drop_index('ix_refresh_tokens_revoked_at', table_name='refresh_tokens')
