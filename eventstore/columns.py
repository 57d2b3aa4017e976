"""Column types of log positions, shared with the read models that store a position."""

from __future__ import annotations

from sqlalchemy.types import UserDefinedType


class Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id, which asyncpg reads as `int`."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "xid8"
