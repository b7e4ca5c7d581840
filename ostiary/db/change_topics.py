"""The log of changed topics that SQLite's triggers write (migration 0020).

SQLite has no ``NOTIFY``: the triggers that announce a change on PostgreSQL append its topic
here instead, in the transaction that makes the change, and the change feed of each process
(``ostiary.db.changes.SQLiteChangeFeed``) reads what is new whenever ``PRAGMA data_version``
says that another connection committed. Ids only grow (``AUTOINCREMENT``), so a feed that finds
the rows after its last one gone (pruned) knows it missed some. On PostgreSQL it stays empty.
"""

from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ostiary.db.base import Base


class ChangeTopic(Base):
    __tablename__ = "change_topics"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(200))
