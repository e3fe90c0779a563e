"""INSERT ... ON CONFLICT for the two databases the service runs on.

SQLAlchemy's generic insert has no ON CONFLICT clause; each dialect's own has it, with
the same API. This picks the one for the connection's dialect.
"""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


def dialect_insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT of ``table`` (PostgreSQL's, or SQLite's for anything else)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
