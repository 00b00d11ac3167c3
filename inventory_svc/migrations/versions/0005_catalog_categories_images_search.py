"""catalog: category, image, archiving, full-text search

Revision ID: 0005
Revises: 0004

Products gain a category slug, an image URL and `active` (archived products are not
listed and not orderable). `search` is a generated tsvector of name and description
(english configuration) with a GIN index, for GET /products?q=.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

SEARCH_DOCUMENT = ("to_tsvector('english'::regconfig, "
                   "coalesce(name, '') || ' ' || coalesce(description, ''))")


def upgrade() -> None:
    op.add_column('products', sa.Column('category', sa.String(40), nullable=True))
    op.add_column('products', sa.Column('image_url', sa.String(500), nullable=True))
    op.add_column('products', sa.Column('active', sa.Boolean(), nullable=False,
                                        server_default=sa.text('true')))
    op.add_column('products', sa.Column(
        'search', postgresql.TSVECTOR(),
        sa.Computed(SEARCH_DOCUMENT, persisted=True), nullable=True))
    op.create_index('ix_products_search', 'products', ['search'], postgresql_using='gin')
    op.create_index('ix_products_active_category', 'products', ['active', 'category'])


def downgrade() -> None:
    op.drop_index('ix_products_active_category', table_name='products')
    op.drop_index('ix_products_search', table_name='products')
    for column in ('search', 'active', 'image_url', 'category'):
        op.drop_column('products', column)
