"""Alembic environment: the URL comes from the settings (or `-x url=`), models from the packages."""

from __future__ import annotations

from alembic import context

import api.models  # noqa: F401  (registers every table on Base.metadata)
from api.config import get_settings
from api.database import Base, make_engine

config = context.config
x_args = context.get_x_argument(as_dictionary=True)
url = x_args.get("url") or config.attributes.get("url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
