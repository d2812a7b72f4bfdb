"""Typed ORM rows. The web process is the only writer; workers never import this module."""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from typing import Any, Iterator

from sqlalchemy import (Boolean, Float, ForeignKey, Index, Integer, String, Text, create_engine, event,
                        false, func, inspect, select, true)
from sqlalchemy.schema import CreateColumn
from sqlalchemy.orm import (DeclarativeBase, Mapped, Session, mapped_column, relationship,
                            sessionmaker)


class Base(DeclarativeBase):
    pass


class Job(Base):
    """One dataset, model or other job; its files live in ``<jobs_dir>/<id>/``."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(256))
    group_name: Mapped[str] = mapped_column(String(256), default="", index=True)
    username: Mapped[str] = mapped_column(String(64), default="", index=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id"), nullable=True, index=True)
    spec_json: Mapped[str] = mapped_column(Text, default="{}")
    result_json: Mapped[str] = mapped_column(Text, default="{}")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[float] = mapped_column(Float, default=time.time, index=True)
    started: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished: Mapped[float | None] = mapped_column(Float, nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    gpus: Mapped[str] = mapped_column(String(64), default="")  # the reservation, "0,1"
    # What the job lists show and filter by, kept when the job changes (the web process is the
    # only writer), so a list never reads a spec, a result or a timeline: jobs.listing.
    tags: Mapped[str] = mapped_column(Text, default="", server_default="")  # ",a,b," (LIKE-able)
    network: Mapped[str] = mapped_column(String(128), default="", server_default="")
    dataset: Mapped[str] = mapped_column(String(256), default="", server_default="")  # its name
    main_metric: Mapped[float | None] = mapped_column(Float, nullable=True, index=True)
    summary_json: Mapped[str | None] = mapped_column(Text, nullable=True)  # None: to compute
    category: Mapped[str] = mapped_column(String(32), default="", server_default="")  # its home tab
    priority: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # -1 low, 0, 1 high
    __table_args__ = (  # a tab's page, sorted, and its counts: read from an index, not the rows
        Index("ix_jobs_category_created", "category", "created"),
        Index("ix_jobs_category_metric", "category", "main_metric"),
        Index("ix_jobs_category_status", "category", "status"),
        # The lists' sorts, each with the id that breaks ties, in a tab and across tabs: a page
        # (however deep) is read from the index, in order.
        *(Index(f"ix_jobs_{prefix}{column}_id", *(("category",) if prefix else ()), column, "id")
          for prefix in ("", "category_") for column in ("created", "name", "status", "main_metric")),
    )
    history: Mapped[list["StatusChange"]] = relationship(
        order_by="StatusChange.id", cascade="all, delete-orphan", lazy="selectin")

    @property
    def spec(self) -> dict[str, Any]:
        """The job's specification (what the form asked for), as written to spec.json."""
        return json.loads(self.spec_json or "{}")

    @property
    def result(self) -> dict[str, Any]:
        """What the worker reported in ``result`` events, merged."""
        return json.loads(self.result_json or "{}")


class StatusChange(Base):
    """One step of a job's status timeline."""

    __tablename__ = "status_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    timestamp: Mapped[float] = mapped_column(Float, default=time.time)
    note: Mapped[str] = mapped_column(Text, default="")


class Metric(Base):
    """One metric point a worker emitted (train loss at epoch 1.25, val accuracy...)."""

    __tablename__ = "metrics"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    phase: Mapped[str] = mapped_column(String(32))
    epoch: Mapped[float] = mapped_column(Float, default=0.0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    values_json: Mapped[str] = mapped_column(Text, default="{}")
    timestamp: Mapped[float] = mapped_column(Float, default=time.time)
    # The number a long series is thinned by (its loss, else its first number), kept when the
    # point is written so that thinning reads no JSON; NULL for a row older than the column.
    graph_value: Mapped[float | None] = mapped_column(Float, nullable=True, default=lambda ctx: _graph_value(ctx))
    # Thinning reads only this index (no table page holding the JSON).
    __table_args__ = (Index("ix_metrics_graph", "job_id", "id", "phase", "graph_value"),)

    def as_dict(self) -> dict[str, Any]:
        """The point as the protocol and the REST API show it."""
        return {"phase": self.phase, "epoch": self.epoch, "step": self.step,
                "values": json.loads(self.values_json), "t": self.timestamp}


def _graph_value(context) -> float | None:
    import math

    from .jobs.thin import _first_number

    try:
        values = json.loads(context.get_current_parameters().get("values_json") or "{}")
    except ValueError:
        return None
    value = _first_number({"values": values}) if isinstance(values, dict) else 0.0
    return value if math.isfinite(value) else None


class User(Base):
    """An account. In open mode only the name is used (DIGITS's login); in password mode it has
    an argon2 password hash and the flags that say what it may do."""

    __tablename__ = "users"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    created: Mapped[float] = mapped_column(Float, default=time.time)
    last_login: Mapped[float] = mapped_column(Float, default=time.time)
    password_hash: Mapped[str | None] = mapped_column(String(256), nullable=True)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    can_run_code: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class ApiToken(Base):
    """A script's credential (``Authorization: Bearer``); only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("users.username", ondelete="CASCADE"),
                                          index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created: Mapped[float] = mapped_column(Float, default=time.time)
    last_used: Mapped[float | None] = mapped_column(Float, nullable=True)
    expires: Mapped[float | None] = mapped_column(Float, nullable=True)


class Database:
    """An engine and a session factory; ``with db.session() as s:`` commits or rolls back."""

    def __init__(self) -> None:
        self.engine = None
        self._factory: sessionmaker | None = None
        # bumped by every write to a job row but a progress one (JobStore.notify): what the
        # lists counted stays valid until it changes (the web process is the only writer)
        self.job_writes = 0
        self.counted: dict = {}

    def init(self, url: str) -> None:
        """Connect and create missing tables (SQLite gets WAL and foreign keys)."""
        sqlite = url.startswith("sqlite")
        self.engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30} if sqlite else {},
            pool_pre_ping=not sqlite)
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        _add_missing_columns(self.engine)
        for table in Base.metadata.sorted_tables:  # indexes a newer version added
            for index in table.indexes:
                index.create(self.engine, checkfirst=True)
        self._factory = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error."""
        assert self._factory is not None, "Database.init() was not called"
        session = self._factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def get(self, job_id: str) -> Job | None:
        """A job row, detached and fully loaded, or None."""
        with self.session() as s:
            return s.get(Job, job_id)

    def by_ids(self, ids: list[str]) -> list[Job]:
        """The jobs with these ids (those that exist), in one query."""
        with self.session() as s:
            return list(s.scalars(select(Job).where(Job.id.in_(list(ids)))))

    def reclaim(self, pause=None, pages: int = 2000) -> int:
        """Give deleted rows' space back to the disk (SQLite with incremental auto-vacuum: a
        chunk of pages at a time, ``pause()`` between chunks so requests go on; PostgreSQL's
        autovacuum does it itself). Returns the pages freed."""
        if self.engine is None or self.engine.dialect.name != "sqlite":
            return 0
        freed = 0
        while True:
            with self.engine.connect() as conn:
                before = conn.exec_driver_sql("PRAGMA freelist_count").scalar() or 0
                if not before:
                    return freed
                result = conn.exec_driver_sql(f"PRAGMA incremental_vacuum({pages})")
                if result.returns_rows:  # older SQLite: one row per page freed, stepped through
                    result.fetchall()
                conn.commit()
                after = conn.exec_driver_sql("PRAGMA freelist_count").scalar() or 0
            freed += before - after
            if after >= before:  # not an incremental database (made before this version)
                return freed
            if pause is not None:
                pause()

    def count(self, *statuses: str) -> int:
        """How many jobs (in the given statuses): a COUNT, no rows."""
        with self.session() as s:
            query = select(func.count()).select_from(Job)
            if statuses:
                query = query.where(Job.status.in_(statuses))
            return int(s.scalar(query) or 0)

    def jobs(self, *statuses: str, kinds: tuple[str, ...] = ()) -> list[Job]:
        """All jobs (in the given statuses, of the given kinds), oldest first."""
        with self.session() as s:
            query = select(Job).order_by(Job.created, Job.id)
            if statuses:
                query = query.where(Job.status.in_(statuses))
            if kinds:
                query = query.where(Job.kind.in_(kinds))
            return list(s.scalars(query))


def _add_missing_columns(engine) -> None:
    """Columns a newer version added to an existing table (``create_all`` makes only tables)."""
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                ddl = CreateColumn(column).compile(dialect=engine.dialect)
                with engine.begin() as conn:
                    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {ddl}")


def _sqlite_pragmas(conn, _record) -> None:
    # WAL: readers never block the one writer; a kill -9 loses no committed transaction.
    cur = conn.cursor()
    cur.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect on a new database only
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
