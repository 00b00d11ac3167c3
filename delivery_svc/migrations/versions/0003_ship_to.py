"""the parcel's address (ship_to) on shipments

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('shipments', sa.Column('ship_to', postgresql.JSONB(astext_type=sa.Text()),
                                         nullable=True))


def downgrade() -> None:
    op.drop_column('shipments', 'ship_to')
