"""Running ORM code from the async consumers.

Channels' ``database_sync_to_async`` runs every call of a process on one shared thread, so one
slow query holds up every socket of that process, and a busy process can do only one database
round trip at a time. On PostgreSQL, calls from sockets run instead on a bounded pool of
threads (``WS_DB_THREADS``), each borrowing a connection from the connection pool for the call.
SQLite keeps the single thread: it allows one writer at a time anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import SyncToAsync
from channels.db import DatabaseSyncToAsync
from django.conf import settings
from django.db import close_old_connections, connection

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _shared_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=settings.WS_DB_THREADS, thread_name_prefix="ws-db")
        return _executor


class PooledDatabaseSyncToAsync(SyncToAsync):
    """Each call borrows a pooled connection and gives it back when it ends.

    (Channels' own helper does the same, but its test communicator turns that off, which
    suits only its single shared thread; here every worker thread would keep a connection.)
    """

    def thread_handler(self, loop: Any, *args: Any, **kwargs: Any) -> Any:
        close_old_connections()
        try:
            return super().thread_handler(loop, *args, **kwargs)
        finally:
            close_old_connections()


def database_sync_to_async(func: Callable[..., Any]) -> Callable[..., Any]:
    """Like Channels' helper (connections are tidied around each call), on the pool when it can."""
    if connection.vendor == "postgresql" and settings.WS_DB_THREADS > 1:
        return PooledDatabaseSyncToAsync(func, thread_sensitive=False, executor=_shared_executor())
    return DatabaseSyncToAsync(func)
