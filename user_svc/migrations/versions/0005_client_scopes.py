"""api client scopes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 15:20:00

An API client of role `client` reached almost nothing; scopes give it named admin
routes (a warehouse client that reads inventory and restocks, say).
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('api_clients', sa.Column('scopes', sa.String(length=255), nullable=False,
                                           server_default=''))


def downgrade() -> None:
    op.drop_column('api_clients', 'scopes')
