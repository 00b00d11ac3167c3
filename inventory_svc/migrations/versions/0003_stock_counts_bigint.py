"""stock counts as bigint

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 13:45:00

Restocks in steps of 1e9 took `on_hand` past 2^31-1, and the next restock answered 500
`integer out of range`. The counts are bigint now, and a restock that would take
`on_hand` past MAX_ON_HAND is refused with a 400 (inventory_svc.domain).
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

COLUMNS = ('on_hand', 'reserved', 'received')


def upgrade() -> None:
    for column in COLUMNS:
        op.alter_column('stock', column, type_=sa.BigInteger(), existing_nullable=False)


def downgrade() -> None:
    for column in COLUMNS:
        op.alter_column('stock', column, type_=sa.Integer(), existing_nullable=False)
