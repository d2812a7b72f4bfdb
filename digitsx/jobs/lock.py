"""One server per jobs folder: an exclusive ``flock`` on ``<jobs dir>/.lock``, held for the
server's life (the kernel drops it when the process dies, ``kill -9`` included).

Without it a second server's start-up recovery marked the first one's jobs Interrupted and
killed its workers as orphans. With a database outside the folder (PostgreSQL), the lock is
also taken there: a session-level advisory lock on a connection kept open.
"""
from __future__ import annotations

import fcntl
import os
import zlib
from pathlib import Path

from ..config import ConfigError


class ServerLocked(ConfigError):
    """Another server holds the jobs folder or the database."""


class FolderLock:
    def __init__(self, folder: str, engine=None) -> None:
        self.folder = Path(folder)
        self.engine = engine if engine is not None and engine.dialect.name == "postgresql" else None
        self.fd: int | None = None
        self.conn = None

    def acquire(self) -> None:
        fd = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise ServerLocked(f"another digitsx server (pid {holder}) is using the jobs folder "
                               f"{self.folder}: stop it first, or give this one its own "
                               f"--jobs-dir and database") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        if self.engine is not None:
            self._lock_database()

    def _lock_database(self) -> None:
        from sqlalchemy import text

        key = zlib.crc32(b"digitsx-server")
        self.conn = self.engine.connect()
        if not self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            self.conn.close()
            self.release()
            raise ServerLocked("another digitsx server is using this database (its advisory "
                               "lock is held): stop it first, or use a database of its own")

    def release(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
