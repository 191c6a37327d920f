"""documents: bid cycles, document types and descriptions, CBAs, staged files, uploads

Revision ID: 0002_documents
Revises: 0001_users
Create Date: 2026-11-23 17:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002_documents'
down_revision = '0001_users'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('bid_cycles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('is_open', sa.Boolean(), nullable=False, comment='Accepts uploads.'),
    sa.Column('is_default', sa.Boolean(), nullable=False, comment='Shown and used when none is chosen.'),
    sa.Column('contract_start', sa.Date(), nullable=True),
    sa.Column('contract_end', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bid_cycles')),
    sa.UniqueConstraint('name', name=op.f('uq_bid_cycles_name'))
    )
    op.create_table('document_types',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('requires_cba', sa.Boolean(), nullable=False, comment='A CBA is required, and refused when false.'),
    sa.Column('help', sa.String(length=300), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_types')),
    sa.UniqueConstraint('code', name=op.f('uq_document_types_code'))
    )
    op.create_table('cbas',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bid_cycle_pk', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('state', sa.String(length=2), nullable=False, comment='The first (main) state of the area.'),
    sa.Column('states', sa.String(length=32), nullable=False, comment='Every state of the area, e.g. OH-KY-IN.'),
    sa.ForeignKeyConstraint(['bid_cycle_pk'], ['bid_cycles.id'], name=op.f('fk_cbas_bid_cycle_pk_bid_cycles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cbas')),
    sa.UniqueConstraint('bid_cycle_pk', 'code', name='uq_cbas_bid_cycle_pk_code')
    )
    op.create_table('document_descriptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_type_pk', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('help', sa.String(length=300), nullable=True),
    sa.Column('sort_order', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['document_type_pk'], ['document_types.id'], name=op.f('fk_document_descriptions_document_type_pk_document_types'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_descriptions')),
    sa.UniqueConstraint('document_type_pk', 'code', name='uq_document_descriptions_type_code')
    )
    op.create_table('staged_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staged_file_id', sa.String(length=64), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False, comment='Sanitized original name: metadata only.'),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('page_count', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_pk'], ['users.id'], name=op.f('fk_staged_files_user_pk_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staged_files')),
    sa.UniqueConstraint('staged_file_id', name=op.f('uq_staged_files_staged_file_id')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_staged_files_storage_key'))
    )
    with op.batch_alter_table('staged_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staged_files_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_staged_files_user_pk'), ['user_pk'], unique=False)

    op.create_table('document_uploads',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('confirmation_number', sa.String(length=24), nullable=False),
    sa.Column('user_pk', sa.Integer(), nullable=False),
    sa.Column('bidder_pk', sa.Integer(), nullable=False),
    sa.Column('bid_cycle_pk', sa.Integer(), nullable=False),
    sa.Column('document_type_pk', sa.Integer(), nullable=False),
    sa.Column('description_pk', sa.Integer(), nullable=False),
    sa.Column('cba_pk', sa.Integer(), nullable=True),
    sa.Column('file_name', sa.String(length=255), nullable=False, comment='Sanitized original name: metadata only.'),
    sa.Column('nickname', sa.String(length=100), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('page_count', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False, comment="Server-generated; never the user's name."),
    sa.Column('certification_user_id', sa.String(length=64), nullable=False, comment="The IDM user ID signed under the certification statement (the uploader's own)."),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('idempotency_key', sa.String(length=128), nullable=True),
    sa.Column('request_fingerprint', sa.String(length=64), nullable=False, comment='Hash of what was asked, for key reuse.'),
    sa.ForeignKeyConstraint(['bid_cycle_pk'], ['bid_cycles.id'], name=op.f('fk_document_uploads_bid_cycle_pk_bid_cycles'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['bidder_pk'], ['bidders.id'], name=op.f('fk_document_uploads_bidder_pk_bidders'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['cba_pk'], ['cbas.id'], name=op.f('fk_document_uploads_cba_pk_cbas'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['description_pk'], ['document_descriptions.id'], name=op.f('fk_document_uploads_description_pk_document_descriptions'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['document_type_pk'], ['document_types.id'], name=op.f('fk_document_uploads_document_type_pk_document_types'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['user_pk'], ['users.id'], name=op.f('fk_document_uploads_user_pk_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_uploads')),
    sa.UniqueConstraint('confirmation_number', name=op.f('uq_document_uploads_confirmation_number')),
    sa.UniqueConstraint('storage_key', name=op.f('uq_document_uploads_storage_key')),
    sa.UniqueConstraint('user_pk', 'idempotency_key', name='uq_document_uploads_user_pk_idempotency_key')
    )
    with op.batch_alter_table('document_uploads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_document_uploads_bidder_pk'), ['bidder_pk'], unique=False)
        batch_op.create_index('ix_document_uploads_user_pk_uploaded_at', ['user_pk', 'uploaded_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('document_uploads', schema=None) as batch_op:
        batch_op.drop_index('ix_document_uploads_user_pk_uploaded_at')
        batch_op.drop_index(batch_op.f('ix_document_uploads_bidder_pk'))

    op.drop_table('document_uploads')
    with op.batch_alter_table('staged_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staged_files_user_pk'))
        batch_op.drop_index(batch_op.f('ix_staged_files_expires_at'))

    op.drop_table('staged_files')
    op.drop_table('document_descriptions')
    op.drop_table('cbas')
    op.drop_table('document_types')
    op.drop_table('bid_cycles')
