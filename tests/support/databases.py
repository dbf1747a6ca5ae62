"""Migrated databases made once per session, then copied for each test; a seeded one too.

Migrating takes longer than most tests, so each worker migrates once per database kind and
every test gets a copy of its own: a copied file on SQLite; on PostgreSQL a schema of its own,
built by replaying, in one transaction, the statements the migration sent (recorded as they
went); the first copy is checked against the migrated schema, object for object and row count
for row count, so a migration step that bypassed the recording fails the session instead of
leaving the copies short. A background thread builds the next test's schema and drops the last
one's while tests run, and test connections commit without waiting for the disk
(synchronous_commit off: nothing here outlives a server crash anyway).

The seed — one user per role and the demo case deposited in a FileStore — is made once per
database kind, and a test that uses the portal on the FileStore starts from a copy of it: its
data dir (keys), its store, and its rows — the database file on SQLite; on PostgreSQL every
table's rows as `COPY` wrote them, copied into the test's schema with triggers off (the rows
are the ones the triggers already let in) and each sequence set where the seed left it, the
first copy checked row count for row count against the seed. No test sees another's writes.
"""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, make_url

from access import identities
from portal.cli.demo import case_document, write_sip
from portal.db import migrate
from portal.internal.archive import operations
from portal.settings import Settings
from portal.wiring import wire
from tests.support.portal import QUICK_HASHER, create_role_users

# What a statement needs to run again as it first ran: its text and parameters, whether it ran as
# executemany, and whether it ran with no parameters at all (so '%' is not a placeholder).
Statement = tuple[str, Any, bool, bool]
# The settings a seed may differ in from a test's: where things are kept (and the S3 part size:
# seeds are FileStores).
PLACES = {"data_dir", "database_url", "store", "release_store", "s3_part_size"}


@contextlib.contextmanager
def recording(target: Any) -> Iterator[list[Statement]]:
    """Collect every statement an engine (or every engine: `Engine`) sends while in the block."""
    captured: list[Statement] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        # Batched inserts are flagged executemany but each batch is sent as one execute.
        many = many and isinstance(parameters, list)
        bare = not parameters and context is not None and context.no_parameters
        captured.append((statement, parameters, many, bare))

    event.listen(target, "before_cursor_execute", capture)
    try:
        yield captured
    finally:
        event.remove(target, "before_cursor_execute", capture)


def _replay(cursor: Any, statements: list[Statement]) -> None:
    for statement, parameters, many, bare in statements:
        if many:
            cursor.executemany(statement, parameters)
        elif bare:
            cursor.execute(statement)
        else:
            cursor.execute(statement, parameters)


@dataclass
class Seed:
    """One user per role and the demo case, deposited once; copied into a test's places."""

    bundle_id: str
    data_dir: Path
    objects: Path
    database: Path | None = None  # SQLite: the database file
    rows: dict[str, bytes] = field(default_factory=dict)  # PostgreSQL: each table's rows, COPY's text
    sequences: dict[str, int] = field(default_factory=dict)  # PostgreSQL: each used sequence's last value
    catalogue: list[Any] = field(default_factory=list)  # PostgreSQL: what the seeded schema held
    checked: bool = False  # whether a copy has been checked against `catalogue`


class Databases:
    """The worker's templates, made on first use, and the copies handed to tests."""

    def __init__(self, root: Path, pg_url: str) -> None:
        self._root = root
        self._pg_url = pg_url
        self._admin: Engine | None = None
        self._sqlite: Path | None = None
        self._pg_migration: list[Statement] | None = None
        self._seeds: dict[str, Seed] = {}  # by database kind
        self._schemas: dict[str, str] = {}  # database URL -> its schema
        self._chores = ThreadPoolExecutor(max_workers=1, thread_name_prefix="schemas")
        self._prepared: deque[Future[str]] = deque()
        self._dropped: list[Future[None]] = []

    # --- copies for tests -------------------------------------------------------------------

    def sqlite(self, target: Path) -> str:
        """A migrated SQLite file at `target`; its URL."""
        if self._sqlite is None:
            self._sqlite = self._root / "template.db"
            migrate(f"sqlite:///{self._sqlite}")
        shutil.copyfile(self._sqlite, target)
        return f"sqlite:///{target}"

    def postgres(self) -> str:
        """A migrated schema of its own on PostgreSQL; the URL that reaches it."""
        if self._pg_migration is None:
            template = self._new_schema()
            with recording(Engine) as statements:
                migrate(self._url(template))
            self._pg_migration = statements
            first = self._new_schema(statements)
            if self._catalogue(first) != self._catalogue(template):
                raise AssertionError("replaying the recorded migration does not rebuild its schema")
            self._prepared.append(self._chores.submit(lambda: first))
            self.drop(self._url(template))
        if not self._prepared:
            self._prepared.append(self._chores.submit(self._new_schema, self._pg_migration))
        schema = self._prepared.popleft().result()
        self._prepared.append(self._chores.submit(self._new_schema, self._pg_migration))  # the next one's
        return self._url(schema)

    def empty_postgres(self) -> str:
        """A schema of its own with nothing in it, not even the migrations; the URL that reaches it."""
        return self._url(self._new_schema())

    def drop(self, url: str) -> None:
        """Drop the schema behind a PostgreSQL URL handed out here (in the background)."""
        self._dropped.append(self._chores.submit(self._drop, self._schemas.pop(url)))

    def _drop(self, schema: str) -> None:
        with self._engine().begin() as conn:
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO off")
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")

    # --- the seed ---------------------------------------------------------------------------

    def seedable(self, settings: Settings) -> bool:
        """Whether the seed can stand in for depositing afresh: a FileStore, no S3 release realm,
        the default settings otherwise, and nothing yet in the data dir or the store."""
        store = settings.store or ""
        if not store.startswith("file://") or settings.release_store is not None:
            return False
        if settings.model_dump(exclude=PLACES) != Settings().model_dump(exclude=PLACES):
            return False
        return not settings.data_dir.exists() and not Path(store.removeprefix("file://")).exists()

    def restore(self, settings: Settings, footage: Path) -> str:
        """Copy the seed into the test's database, data dir and store; the demo bundle's id."""
        url = settings.database_url or ""
        kind = make_url(url).get_backend_name()
        seed = self._seeds.get(kind) or self._make_seed(kind, footage)
        shutil.copytree(seed.data_dir, settings.data_dir)
        shutil.copytree(seed.objects, Path((settings.store or "").removeprefix("file://")))
        if seed.database is not None:
            shutil.copyfile(seed.database, make_url(url).database or "")
        else:
            self._load(self._schemas[url], seed)
        return seed.bundle_id

    def _make_seed(self, kind: str, footage: Path) -> Seed:
        place = self._root / f"seed-{kind}"
        place.mkdir()
        url = self.sqlite(place / "casevault.db") if kind == "sqlite" else self.postgres()
        settings = Settings(data_dir=place / "var", database_url=url, store=f"file://{place / 'objects'}")
        wired = wire(settings)
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(identities, "_HASHER", QUICK_HASHER)
                with wired.sessions() as session:
                    create_role_users(session)
                    session.commit()
                folder = write_sip(place / "sip", case_document(), footage=footage)
                bundle_id = operations.deposit(wired, folder=folder, actor="test")["bundle_id"]
        finally:
            wired.engine.dispose()  # on SQLite the last connection closing folds the WAL into the file
        seed = Seed(bundle_id=bundle_id, data_dir=place / "var", objects=place / "objects")
        if kind == "sqlite":
            seed.database = place / "casevault.db"
        else:
            self._dump(self._schemas[url], seed)
            self.drop(url)
        self._seeds[kind] = seed
        return seed

    # --- PostgreSQL schemas ----------------------------------------------------------------

    def _dump(self, schema: str, seed: Seed) -> None:
        """Keep every table's rows and every used sequence's value of a seeded schema."""
        seed.catalogue = self._catalogue(schema)
        with self._engine().connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            tables = [entry[1] for entry in seed.catalogue if entry[0] == "relation" and entry[2] == "r"]
            for table in tables:
                with cursor.copy(f"COPY {schema}.{table} TO STDOUT") as copy:
                    seed.rows[table] = b"".join(bytes(block) for block in copy)
            cursor.execute(
                "SELECT sequencename, last_value FROM pg_sequences"
                " WHERE schemaname = %s AND last_value IS NOT NULL",
                (schema,),
            )
            seed.sequences = dict(cursor.fetchall())

    def _load(self, schema: str, seed: Seed) -> None:
        """Put a seed's rows and sequence values into a freshly migrated schema, in one transaction."""
        with self._engine().begin() as conn:
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO off")
            conn.exec_driver_sql("SET LOCAL session_replication_role TO replica")  # no triggers, no FK checks
            cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            cursor.execute("TRUNCATE " + ", ".join(f"{schema}.{table}" for table in seed.rows))
            for table, rows in seed.rows.items():
                with cursor.copy(f"COPY {schema}.{table} FROM STDIN") as copy:
                    copy.write(rows)
            for sequence, value in seed.sequences.items():
                cursor.execute("SELECT setval(%s, %s)", (f"{schema}.{sequence}", value))
        if not seed.checked:
            if self._catalogue(schema) != seed.catalogue:
                raise AssertionError("copying the seed's rows does not rebuild the seeded schema")
            seed.checked = True

    def _engine(self) -> Engine:
        if self._admin is None:
            self._admin = create_engine("postgresql+psycopg://" + self._pg_url.split("://", 1)[1])
        return self._admin

    def _url(self, schema: str) -> str:
        separator = "&" if "?" in self._pg_url else "?"
        url = f"{self._pg_url}{separator}options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"
        self._schemas[url] = schema
        return url

    def _new_schema(self, statements: list[Statement] | None = None) -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with self._engine().begin() as conn:
            conn.exec_driver_sql("SET LOCAL synchronous_commit TO off")
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            if statements:
                conn.exec_driver_sql(f"SET LOCAL search_path TO {schema}")
                _replay(conn.connection.dbapi_connection.cursor(), statements)  # type: ignore[union-attr]
        return schema

    def _catalogue(self, schema: str) -> list[Any]:
        """What a schema holds: its relations, triggers, functions, and each table's row count."""
        with self._engine().connect() as conn:
            objects = conn.exec_driver_sql(
                "SELECT 'relation', c.relname, c.relkind::text FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s"
                " UNION ALL SELECT 'trigger', t.tgname, c.relname FROM pg_trigger t"
                " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %(s)s AND NOT t.tgisinternal"
                " UNION ALL SELECT 'function', p.proname, '' FROM pg_proc p"
                " JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = %(s)s ORDER BY 1, 2, 3",
                {"s": schema},
            ).all()
            tables = [name for kind, name, relkind in objects if kind == "relation" and relkind == "r"]
            rows = [conn.exec_driver_sql(f"SELECT count(*) FROM {schema}.{t}").scalar() for t in tables]
        return [*objects, *zip(tables, rows, strict=True)]

    def close(self) -> None:
        """Drop the schema made ahead for a test that never came, wait for every drop, and let go
        of the server connection."""
        while self._prepared:
            self._dropped.append(self._chores.submit(self._drop, self._prepared.popleft().result()))
        self._chores.shutdown(wait=True)
        for dropped in self._dropped:
            dropped.result()  # a schema that could not be dropped fails the session's teardown
        if self._admin is not None:
            self._admin.dispose()
