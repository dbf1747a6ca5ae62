"""Migration environment: one history for every package's tables."""

import access.activities
import access.anomalies
import access.checkpoints
import access.disclosure.models
import access.ledger
import access.models
import access.witnessing  # noqa: F401
import archive.jobs
import archive.models  # noqa: F401
import retention.audit_models
import retention.disposition
import retention.holds
import retention.models  # noqa: F401
from alembic import context
from archive.db import Base

target_metadata = Base.metadata
engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
