"""Every casevault table's rows, read from one consistent snapshot and put back into an empty
database, on SQLite and PostgreSQL alike.

A snapshot is one SERIALIZABLE READ ONLY DEFERRABLE transaction on PostgreSQL (it waits for a
moment no concurrent transaction can make it see an anomaly, then never blocks a writer), and a
copy made with SQLite's online backup API on SQLite. Rows are read through the tables as the
database itself describes them (reflection), so a backup carries whatever revision it was made
at; values are kept as JSON with a tag for what JSON has no form of, and JSON columns as their
exact text.

Loading never switches a protection off: the ledger's entries, checkpoints, notes, cosignatures
and the tombstones are only ever inserted (which their triggers allow), in the order they were
made, and the ledger head is moved forward from the genesis the migrations left to the restored
head (which its trigger allows). Rows that point at a row of their own table (a bundle's previous
version, a schedule version's base) go in without that pointer, which is set once the table is in.
"""

from __future__ import annotations

import base64
import contextlib
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    Engine,
    MetaData,
    Table,
    Text,
    bindparam,
    cast,
    create_engine,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from archive.errors import Refused

# Tables the migrations themselves fill: a freshly migrated database holds these rows and no
# other, and a restore replaces them with the backup's (the ledger head is moved, never deleted).
MIGRATION_ROWS = (
    "anomaly_cursor",
    "ledger_head",
    "recorded_activities",
    "retention_rules",
    "retention_schedule_versions",
)
MOVED_IN_PLACE = ("ledger_head",)
SKIPPED = ("alembic_version",)  # the revision travels in the manifest; migrating writes it
BATCH = 1000


@contextlib.contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A connection that sees the whole database as of one moment (on SQLite, a copy made beside
    the database file, as well guarded as it, and removed afterwards)."""
    if engine.dialect.name == "sqlite":
        beside = Path(engine.url.database or ".").parent
        with tempfile.TemporaryDirectory(dir=beside, prefix=".backup-") as folder:
            copy = Path(folder) / "snapshot.db"
            raw = engine.raw_connection()
            try:
                target = sqlite3.connect(copy)
                try:
                    raw.driver_connection.backup(target)  # type: ignore[union-attr]
                finally:
                    target.close()
            finally:
                raw.close()
            frozen = create_engine(f"sqlite:///{copy}")
            try:
                with frozen.connect() as conn:
                    yield conn
            finally:
                frozen.dispose()
        return
    options = {"isolation_level": "SERIALIZABLE", "postgresql_readonly": True, "postgresql_deferrable": True}
    with engine.connect().execution_options(**options) as conn, conn.begin():
        yield conn


def tables_of(conn: Connection) -> list[Table]:
    """The database's casevault tables, each after the tables it refers to."""
    found = MetaData()
    found.reflect(bind=conn)
    return [t for t in found.sorted_tables if t.name not in SKIPPED]


def revision(conn: Connection) -> str | None:
    """The migration the database is at; None when it has no casevault schema."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    found = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return found[0] if found else None


def _read_column(column: Column[Any]) -> ColumnElement[Any]:
    return cast(column, Text).label(column.name) if isinstance(column.type, JSON) else column


def encode(value: Any) -> Any:
    """A cell as JSON: itself, or tagged when JSON has no form of it."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return {"~": "datetime", "v": value.isoformat()}
    if isinstance(value, date):
        return {"~": "date", "v": value.isoformat()}
    if isinstance(value, bytes | memoryview):
        return {"~": "bytes", "v": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, Decimal):
        return {"~": "decimal", "v": str(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"a {type(value).__name__} cell has no backup form")


def dump(conn: Connection, table: Table) -> Iterator[list[Any]]:
    """Every row of a table in key order, each cell encoded."""
    order = list(table.primary_key.columns) or list(table.columns)
    result = conn.execution_options(yield_per=BATCH).execute(
        select(*[_read_column(c) for c in table.columns]).order_by(*order)
    )
    for row in result:
        yield [encode(v) for v in row]


def count(conn: Connection, table: Table) -> int:
    """How many rows a table holds."""
    return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def ledger_head(conn: Connection) -> dict[str, Any]:
    """The ledger's head: its sequence number and hash."""
    seq, entry_hash = conn.execute(text("SELECT seq, entry_hash FROM ledger_head WHERE id = 1")).one()
    return {"seq": int(seq), "entry_hash": entry_hash}


def require_empty(conn: Connection, tables: Sequence[Table], *, shown: str) -> None:
    """Refuse a database that holds any casevault row beyond what its migrations put there."""
    for table in tables:
        if table.name in MIGRATION_ROWS:
            continue
        held = count(conn, table)
        if held:
            raise Refused(
                f"{shown}: the database is not empty (table {table.name} holds {held} row(s)); "
                "restore only into an empty database — nothing was written"
            )
    head = ledger_head(conn)
    if head["seq"]:
        raise Refused(
            f"{shown}: the database's ledger already has {head['seq']} entries; nothing was written"
        )


def _decode(value: Any, column: Column[Any], dialect: str) -> Any:
    if not isinstance(value, dict):
        return value
    tag, raw = value["~"], value["v"]
    if tag == "date":
        return date.fromisoformat(raw)
    if tag == "bytes":
        return base64.b64decode(raw)
    if tag == "decimal":
        return Decimal(raw)
    if tag != "datetime":
        raise ValueError(f"column {column.name}: unknown cell tag {tag!r}")
    moment = datetime.fromisoformat(raw)
    if dialect == "sqlite" and moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)  # how SQLite keeps UTC times
    if moment.tzinfo is None and isinstance(column.type, DateTime) and column.type.timezone:
        return moment.replace(tzinfo=UTC)  # a SQLite backup's UTC time, into PostgreSQL
    return moment


class Loader:
    """Puts one backup's tables into an empty database, inside the caller's transaction."""

    def __init__(self, conn: Connection, tables: Sequence[Table]) -> None:
        self._conn, self._dialect = conn, conn.dialect.name
        self._tables = {t.name: t for t in tables}
        self._table: Table | None = None
        self._batch: list[dict[str, Any]] = []
        self._pointers: list[tuple[dict[str, Any], dict[str, Any]]] = []

    def clear_migration_rows(self) -> None:
        """Remove what the migrations seeded (the backup holds its own), but the ledger head."""
        for table in reversed(list(self._tables.values())):
            if table.name in MIGRATION_ROWS and table.name not in MOVED_IN_PLACE:
                self._conn.execute(table.delete())

    def begin(self, name: str, columns: Sequence[str]) -> None:
        """Start a table; its columns must be the target's."""
        self.finish()
        table = self._tables.get(name)
        if table is None or sorted(columns) != sorted(c.name for c in table.columns):
            raise Refused(
                f"table {name}: the backup's columns do not match this database's; nothing was written"
            )
        self._table, self._columns = table, [table.columns[c] for c in columns]
        self._self_refs = [
            fk.parent.name for fk in table.foreign_keys if fk.column.table is table and fk.parent.nullable
        ]
        self._json = [c.name for c in table.columns if isinstance(c.type, JSON)]
        self._insert = table.insert().values(
            {name: self._json_param(table.columns[name]) for name in self._json}
        )

    def _json_param(self, column: Column[Any]) -> ColumnElement[Any]:
        """A JSON column's exact text (a bound name of its own: the column's is reserved)."""
        param = bindparam(f"{column.name}__text", type_=Text)
        return param if self._dialect == "sqlite" else cast(param, column.type)

    def add(self, cells: Sequence[Any]) -> None:
        """One row of the current table."""
        assert self._table is not None
        row = {c.name: _decode(v, c, self._dialect) for c, v in zip(self._columns, cells, strict=True)}
        if self._self_refs:
            key = {c.name: row[c.name] for c in self._table.primary_key.columns}
            pointers = {name: row[name] for name in self._self_refs if row[name] is not None}
            if pointers:
                self._pointers.append((key, pointers))
                row.update(dict.fromkeys(pointers))
        self._batch.append(row)
        if len(self._batch) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        assert self._table is not None
        if not self._batch:
            return
        if self._table.name in MOVED_IN_PLACE:
            for row in self._batch:
                where = [c == row[c.name] for c in self._table.primary_key.columns]
                self._conn.execute(update(self._table).where(*where).values(row))
        else:
            for row in self._batch:
                for name in self._json:
                    row[f"{name}__text"] = row.pop(name)
            self._conn.execute(self._insert, self._batch)
        self._batch = []

    def finish(self) -> None:
        """Write what is pending of the current table, then its rows' pointers to their own table."""
        if self._table is None:
            return
        self._flush()
        for key, pointers in self._pointers:
            where = [self._table.columns[name] == value for name, value in key.items()]
            self._conn.execute(update(self._table).where(*where).values(pointers))
        self._pointers, self._table = [], None

    def advance_sequences(self) -> None:
        """Set each PostgreSQL sequence past the ids restored (SQLite takes the next id from the rows)."""
        self.finish()
        if self._dialect != "postgresql":
            return
        for table in self._tables.values():
            for column in table.primary_key.columns:
                sequence = self._conn.execute(
                    text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
                ).scalar()
                if sequence is not None:
                    self._conn.execute(
                        text(
                            f'SELECT setval(:s, COALESCE(MAX("{column.name}"), 1),'
                            f' MAX("{column.name}") IS NOT NULL) FROM "{table.name}"'
                        ),
                        {"s": sequence},
                    )


def on_each_batch(rows: Iterator[list[Any]], done: Callable[[int], None] | None) -> Iterator[list[Any]]:
    """The rows, telling `done` every batch of them (and the rest at the end)."""
    n = 0
    for row in rows:
        yield row
        n += 1
        if done is not None and n == BATCH:
            done(n)
            n = 0
    if done is not None and n:
        done(n)
