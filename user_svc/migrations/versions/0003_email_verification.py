"""email verification

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 14:30:00

The welcome mail is a verification mail with a single-use link (POST /auth/verify);
`/users/me` shows `email_verified`. Accounts made before stay unverified, except the
admin, whose address comes from the operator's configuration.
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('users', sa.Column('email_verified', sa.Boolean(), nullable=False,
                                     server_default=sa.false()))
    op.add_column('users', sa.Column('verification_hash', sa.String(length=64),
                                     nullable=True))
    op.add_column('users', sa.Column('verification_expires_at',
                                     sa.DateTime(timezone=True), nullable=True))
    op.create_unique_constraint('users_verification_hash_key', 'users',
                                ['verification_hash'])
    op.execute("UPDATE users SET email_verified = true WHERE role = 'admin'")


def downgrade() -> None:
    op.drop_constraint('users_verification_hash_key', 'users', type_='unique')
    op.drop_column('users', 'verification_expires_at')
    op.drop_column('users', 'verification_hash')
    op.drop_column('users', 'email_verified')
