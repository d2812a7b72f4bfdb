"""Configuration defaults and the helpers that read them.

Precedence (lowest first): these defaults, ``<instance>/digitsx.cfg``, ``DIGITSX_*`` environment
variables (``DIGITSX_JOBS_DIR``, ``DIGITSX_DATABASE_URL``, ``DIGITSX_GPUS``...), then the mapping a
test passes to :func:`digitsx.create_app`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def user_data_dir() -> Path:
    """The per-user data directory (XDG on Linux): ``~/.local/share/digitsx``."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(Path.home(), ".local", "share")
    return Path(base) / "digitsx"


def defaults() -> dict[str, Any]:
    """Embedded defaults: SQLite and a jobs folder inside the per-user data directory."""
    return {
        "JOBS_DIR": str(user_data_dir() / "jobs"),
        "DATABASE_URL": None,  # None: sqlite:///<JOBS_DIR>/digitsx.db
        "GPUS": None,  # None: every GPU NVML finds (filtered by CUDA_VISIBLE_DEVICES); "0,2": these
        "FAKE_GPUS": 0,  # tests and demos: pretend this many GPUs exist (telemetry is synthetic)
        "CPU_SLOTS": 2,  # dataset jobs running at once
        "CPU_TRAIN_SLOTS": 1,  # training jobs running at once on a host without any GPU
        "DATA_ROOTS": None,  # server folders users may read ("a:b"); None: the user's home folder
        "PLUGINS": [],  # extra modules with init_app(app): job kinds, routes
        "ABORT_GRACE_SECONDS": 10.0,  # SIGTERM, then SIGKILL after this long
        "SCHEDULER_AUTOSTART": True,  # False in unit tests, which call scheduler.tick() themselves
        "TELEMETRY_INTERVAL": 1.0,
        "MAX_CONTENT_LENGTH": 2 * 1024**3,  # uploads above this answer 413
        "LOG_TAIL_LINES": 40,
        "TCP_NODELAY": True,  # False only to measure the ~40 ms keep-alive stall (bench/)
        "SERVING_IDLE_SECONDS": 300.0,  # a warm inference worker closes after this long unused
        "CLASSIFY_MANY_DIRECT": 1000,  # classify_many.json lists up to this size answer directly
        "SECRET_KEY": None,  # None: generated once and kept in the jobs folder
    }


def parse_list(value: Any, kind: type = str, sep: str = ",") -> list | None:
    """Read a list setting given as a list, a number or a separated string ("0,2")."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [kind(v) for v in value]
    if isinstance(value, int):
        return [kind(value)]
    return [kind(part.strip()) for part in str(value).split(sep) if part.strip()]


def finalize(config: dict) -> None:
    """Fill in settings derived from others (database URL, folders, secret key)."""
    jobs_dir = Path(config["JOBS_DIR"]).expanduser().resolve()
    jobs_dir.mkdir(parents=True, exist_ok=True)
    config["JOBS_DIR"] = str(jobs_dir)
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = f"sqlite:///{jobs_dir / 'digitsx.db'}"
    roots = parse_list(config.get("DATA_ROOTS"), sep=os.pathsep) or [str(Path.home())]
    config["DATA_ROOTS"] = [str(Path(r).expanduser().resolve()) for r in roots]
    config["PLUGINS"] = parse_list(config.get("PLUGINS")) or []
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _persistent_secret(jobs_dir / ".secret_key")


def _persistent_secret(path: Path) -> str:
    """A random key made once, so login cookies outlive a restart."""
    if path.exists():
        return path.read_text().strip()
    key = os.urandom(32).hex()
    path.write_text(key)
    os.chmod(path, 0o600)
    return key
