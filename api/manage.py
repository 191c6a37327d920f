"""Operator commands: `python -m api.manage migrate|seed|check-db|make-migration MESSAGE`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from api.config import get_settings
from api.database import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    cfg.attributes["url"] = url
    return cfg


def describe_database_problem(url: str, exc: Exception) -> str:
    """One sentence saying what is wrong with the database and how to fix it."""
    try:
        safe = make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return f"DATABASE_URL '{url}' is not a valid SQLAlchemy URL: use e.g. sqlite:///var/cbp.db or postgresql+psycopg://postgres@127.0.0.1:5432/test."
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (
        f"Cannot reach the database at {safe} ({reason}). "
        "Start the database server or set DATABASE_URL to one that runs (see README, Configuration)."
    )


def check_database(url: str) -> str | None:
    """None when the database answers, otherwise the sentence to show."""
    try:
        if url.startswith("sqlite:///"):
            Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except (SQLAlchemyError, ArgumentError, ValueError, ModuleNotFoundError) as exc:
        return describe_database_problem(url, exc)
    return None


def migrate(url: str) -> None:
    command.upgrade(alembic_config(url), "heads")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.manage")
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check-db", help="Say whether the database can be reached.")
    sub.add_parser("migrate", help="Bring the schema up to date (Alembic).")
    sub.add_parser("seed", help="Load the demo data set (idempotent).")
    mk = sub.add_parser("make-migration", help="Autogenerate a migration from the models.")
    mk.add_argument("message")
    args = parser.parse_args(argv)
    url = get_settings().database_url

    problem = check_database(url)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    if args.cmd == "migrate":
        migrate(url)
    elif args.cmd == "seed":
        from api.seed import load_demo_data

        migrate(url)
        for line in load_demo_data(url):
            print(line)
    elif args.cmd == "make-migration":
        migrate(url)
        command.revision(alembic_config(url), message=args.message, autogenerate=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
