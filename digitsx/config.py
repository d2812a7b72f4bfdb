"""Configuration defaults and the helpers that read them.

Precedence (lowest first): these defaults, ``<instance>/digitsx.cfg``, ``DIGITSX_*`` environment
variables (``DIGITSX_JOBS_DIR``, ``DIGITSX_DATABASE_URL``, ``DIGITSX_GPUS``...), then the mapping a
test passes to :func:`digitsx.create_app`.
"""
from __future__ import annotations

import ipaddress
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
        # Keep a worker with torch already imported while no job runs: a training job then
        # starts in about a second instead of five (digitsx.jobs.prestart).
        "PRESTART_WORKER": True,
        "TELEMETRY_INTERVAL": 1.0,
        "TELEMETRY_HISTORY_INTERVAL": 5.0,  # seconds between a job's kept utilisation points
        "MAX_CONTENT_LENGTH": 2 * 1024**3,  # uploads above this answer 413
        "LOG_TAIL_LINES": 40,
        "TCP_NODELAY": True,  # False only to measure the ~40 ms keep-alive stall (bench/)
        "SERVING_IDLE_SECONDS": 300.0,  # a warm inference worker closes after this long unused
        "CLASSIFY_MANY_DIRECT": 1000,  # classify_many.json lists up to this size answer directly
        "SECRET_KEY": None,  # None: generated once and kept in the jobs folder
        # Accounts (see digitsx.auth): "open" (DIGITS's username login, loopback only) or
        # "password"; None: AUTH_DEFAULT, which digitsx-devserver sets from --host.
        "AUTH": None,
        "AUTH_DEFAULT": "open",
        "LISTEN_HOST": None,  # the address digitsx-devserver listens on (open mode: loopback)
        "ADMIN_PASSWORD": None,  # the first-start admin's password (None: random, printed once)
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "PERMANENT_SESSION_LIFETIME": 7 * 24 * 3600,  # seconds a login lasts
        "LOGIN_LIMIT_USER": "10 per 15 minutes",  # failed logins per (user, address)
        "LOGIN_LIMIT_ADDRESS": "50 per 15 minutes",  # failed logins per address
        "PROCESS_LIMIT": "30 per minute",  # per user: Visualize, exports (start a process)
        "JOB_LIMIT": "120 per minute",  # per user: new jobs of any kind
        "MAX_SWEEP": 100,  # jobs one learning rate × batch size sweep may make
        "EXPORT_TIMEOUT": 1800,  # seconds a download may spend exporting (ONNX, TorchScript, checks)
        "WORKER_NICE": 10,  # job workers and exports run this many nice steps below the web process
        "EXPORT_WAIT_SECONDS": 10,  # a first download waits this long for its export, then 202
        "ALLOWED_ORIGINS": [],  # extra Origins allowed to post (a proxy that rewrites Host)
        "PROXY_COUNT": 0,  # trusted reverse proxies in front (X-Forwarded-For/Proto/Host)
        "WTF_CSRF_CHECK_DEFAULT": False,  # digitsx.auth decides which requests need the token
        "WTF_CSRF_TIME_LIMIT": None,  # valid as long as the session
        # Published weights (torchvision's): one cache every job shares, in torch.hub's layout
        # (<dir>/checkpoints/<file>); None: <JOBS_DIR>/weights. A mirror serves the same file
        # names to hosts that cannot reach download.pytorch.org.
        "WEIGHTS_DIR": None,
        "WEIGHTS_MIRROR": None,
        # A Slurm cluster (see digitsx.jobs.executors): the partitions jobs may go to (None: no
        # cluster), and shell lines each batch script runs first (module load, a venv...).
        "SLURM_PARTITIONS": None,
        "SLURM_PRELUDE": "",
        "MODEL_STORES": [],  # DIGITS Model Store URLs (each a folder with master.json)
        "STORE_TIMEOUT": 10.0,  # seconds a store may take to answer a listing
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
    config["WEIGHTS_DIR"] = str(Path(config.get("WEIGHTS_DIR") or jobs_dir / "weights").expanduser().resolve())
    config["MODEL_STORES"] = parse_list(config.get("MODEL_STORES")) or []
    config["SLURM_PARTITIONS"] = parse_list(config.get("SLURM_PARTITIONS")) or None
    config["AUTH"] = str(config.get("AUTH") or config.get("AUTH_DEFAULT") or "open").lower()
    config["ALLOWED_ORIGINS"] = parse_list(config.get("ALLOWED_ORIGINS")) or []
    if config["AUTH"] == "open" and config.get("LISTEN_HOST") is not None:
        if not is_loopback(config["LISTEN_HOST"]):
            raise ConfigError(
                f"refusing to serve {config['LISTEN_HOST']} in open mode: anyone who can reach "
                f"the port could act as any user and run code on this machine. Turn accounts "
                f"on with DIGITSX_AUTH=password (an admin password is printed on the first "
                f"start; DIGITSX_ADMIN_PASSWORD sets it), or listen on 127.0.0.1.")
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _persistent_secret(jobs_dir / ".secret_key")
    if config.get("SESSION_COOKIE_NAME") in (None, "", "session"):
        # A cookie is the host's, whatever the port: two servers on one host each name theirs
        # (after their own secret), so logging in to one does not log out of the other.
        import hashlib

        config["SESSION_COOKIE_NAME"] = "digitsx_" + hashlib.sha256(
            str(config["SECRET_KEY"]).encode()).hexdigest()[:10]


def is_loopback(host: str) -> bool:
    """``localhost``, ``*.localhost``, 127.0.0.0/8 and ::1 (brackets and a port allowed)."""
    host = (host or "").strip().lower()
    if host.startswith("["):
        host = host[1:host.find("]")] if "]" in host else host[1:]
    elif host.count(":") == 1:
        host = host.split(":")[0]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ConfigError(Exception):
    """A setting that cannot work; the server refuses to start with this message."""


def _persistent_secret(path: Path) -> str:
    """A random key made once, so login cookies outlive a restart."""
    if path.exists():
        return path.read_text().strip()
    key = os.urandom(32).hex()
    path.write_text(key)
    os.chmod(path, 0o600)
    return key
