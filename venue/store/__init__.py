"""The venue's persistence layer (SQLAlchemy async; SQLite by default, PostgreSQL).

See specs/persistence.md for the schema, the guarantees and the recovery algorithm.
"""

from venue.store.codec import (
    CodecError,
    decode_command,
    decode_event,
    encode_command,
    encode_event,
)
from venue.store.errors import (
    RecoveryError,
    SchemaError,
    StoreError,
    StoreInUse,
    StoreUnavailable,
)
from venue.store.migrate import (
    SchemaState,
    SchemaStatus,
    check_schema,
    head_revision,
    inspect_schema,
    upgrade,
)
from venue.store.recovery import EngineLike, RecoveryResult, recover_engine
from venue.store.store import (
    LIVE_STATUSES,
    EngineState,
    FixSessionRecord,
    OrderRecord,
    SessionEventRecord,
    Store,
    StoreStats,
    is_in_memory_sqlite,
    make_engine,
    sqlite_file,
)

__all__ = [
    "LIVE_STATUSES",
    "CodecError",
    "EngineLike",
    "EngineState",
    "FixSessionRecord",
    "OrderRecord",
    "RecoveryError",
    "RecoveryResult",
    "SchemaError",
    "SchemaState",
    "SchemaStatus",
    "SessionEventRecord",
    "Store",
    "StoreError",
    "StoreInUse",
    "StoreStats",
    "StoreUnavailable",
    "check_schema",
    "decode_command",
    "decode_event",
    "encode_command",
    "encode_event",
    "head_revision",
    "inspect_schema",
    "is_in_memory_sqlite",
    "make_engine",
    "recover_engine",
    "sqlite_file",
    "upgrade",
]
