"""sign in with an OpenID provider

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 20:15:00

oidc_identities links a provider's account (issuer, subject) to one of ours;
login_codes holds the single-use codes the storefront spends for a token pair after
such a sign-in. An account made by a sign-in has no password: password_hash may be
NULL (a password reset gives it one).
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'oidc_identities',
        sa.Column('issuer', sa.String(length=255), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.Uuid(as_uuid=False), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('issuer', 'subject'),
    )
    op.create_index('ix_oidc_identities_user_id', 'oidc_identities', ['user_id'])
    op.create_table(
        'login_codes',
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Uuid(as_uuid=False), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('code_hash'),
    )
    op.create_index('ix_login_codes_expires_at', 'login_codes', ['expires_at'])
    op.alter_column('users', 'password_hash', existing_type=sa.String(length=72),
                    nullable=True)


def downgrade() -> None:
    # Accounts without a password cannot be kept by the older schema.
    op.execute("DELETE FROM users WHERE password_hash IS NULL")
    op.alter_column('users', 'password_hash', existing_type=sa.String(length=72),
                    nullable=False)
    op.drop_index('ix_login_codes_expires_at', table_name='login_codes')
    op.drop_table('login_codes')
    op.drop_index('ix_oidc_identities_user_id', table_name='oidc_identities')
    op.drop_table('oidc_identities')
