"""The ticket store's typed SQLAlchemy 2 models, one module per aggregate.

Importing the package registers every table on ``Base.metadata`` (Alembic's autogenerate and
the mappers' string references need all of them).
"""

from ticketing.db.models import accounts, analytics, base, nlu, open311, read_markers, tickets, workflow

__all__ = ["accounts", "analytics", "base", "nlu", "open311", "read_markers", "tickets", "workflow"]
