"""Reading DIGITS Model Stores: each store's ``master.json`` and each model's ``info.json``,
fetched under a total deadline (:mod:`digitsx.netfetch`: same-origin redirects only, errors that
never quote the other side), checked against a schema (:func:`clean_info`), each store and each
entry failing alone; the listing read once in the background and shared (:class:`Listing`).
Everything a store sends is hostile."""
from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import unicodedata
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import current_app

from .. import netfetch
from ..models import registry

MAX_JSON = 1 << 20  # master.json and info.json: at most 1 MiB each
MAX_CHILDREN = 500
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._ +-]{0,127}$")  # a file or folder in a store
FILE_KEYS = (("snapshot file", "model.pt"), ("model file", "network.py"), ("network file", "network.py"),
             ("labels file", "labels.txt"), ("mean file", "mean.npy"))


class StoreError(ValueError):
    """What is wrong with a store's answer."""


BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
USE_MEAN = ("none", "image", "pixel")
RESIZE = ("squash", "crop", "fill", "half_crop")
MAX_DIM = 4096
MAX_FILE = 2**40


def _refuse_constant(name: str) -> Any:
    raise StoreError(f"{name} is not a number JSON allows")


def _get_json(url: str, timeout: float) -> Any:
    """A small JSON document of a store, read under a total deadline (``timeout``) and a size
    cap; NaN, Infinity and nesting too deep to read are errors, as is anything that is not JSON."""
    try:
        body = netfetch.read(url, MAX_JSON, timeout)
    except netfetch.FetchError as err:
        raise StoreError(str(err)) from None
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except RecursionError:
        raise StoreError(f"{url[:200]} is nested too deeply to read") from None
    except StoreError as err:
        raise StoreError(f"{url[:200]}: {err}") from None
    except ValueError:
        raise StoreError(f"{url[:200]} is not JSON") from None


def base_url(url: str) -> str:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise StoreError(f"{url!r}: a store is an http:// or https:// URL")
    return url if url.endswith("/") else url + "/"


def text(value: Any, what: str, limit: int, default: str = "") -> str:
    """A store's string: at most ``limit`` characters, no control or bidirectional-override
    characters (a NUL, a newline or U+202E in a name breaks logs and misleads on a page)."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise StoreError(f"info.json's {what!r} is not a string")
    if len(value) > limit:
        raise StoreError(f"info.json's {what!r} is longer than {limit} characters")
    if any(unicodedata.category(c) == "Cc" or c in BIDI for c in value):
        raise StoreError(f"info.json's {what!r} holds control or bidirectional characters")
    return value


def integer(value: Any, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise StoreError(f"info.json's {what!r} must be a whole number from {low} to {high}")
    return value


def clean_info(info: Any) -> dict:
    """A model's ``info.json`` checked against its schema, as a new dict of the keys we use:
    strings of bounded length without control characters, bounded whole numbers (``image
    dimensions``, ``classes``, ``crop_size``, sizes), ``sha256`` digests of 64 hex digits in
    any case (kept lower-case; a malformed one is an error, never a skipped check)."""
    if not isinstance(info, dict):
        raise StoreError("info.json is not an object")
    if len(info) > 64:
        raise StoreError("info.json has more than 64 keys")
    out: dict[str, Any] = {}
    for key, limit in (("name", 200), ("task", 60), ("network", 64), ("framework", 40),
                       ("image resize mode", 20)):
        if info.get(key) is not None:
            out[key] = text(info[key], key, limit)
    if out.get("image resize mode") not in (None, *RESIZE):
        raise StoreError(f"info.json's 'image resize mode' must be one of {', '.join(RESIZE)}")
    for key, _ in FILE_KEYS:
        if info.get(key) not in (None, ""):
            out[key] = text(info[key], key, 128)
    if info.get("classes") is not None:
        out["classes"] = integer(info["classes"], "classes", 1, 100_000)
    dims = info.get("image dimensions")
    if dims is not None:
        if not isinstance(dims, list) or len(dims) != 3:
            raise StoreError("info.json's 'image dimensions' must be [height, width, channels]")
        out["image dimensions"] = [integer(d, "image dimensions", 1, MAX_DIM) for d in dims]
        if out["image dimensions"][2] not in (1, 3):
            raise StoreError("info.json's 'image dimensions' must have 1 or 3 channels")
    pre = info.get("preprocessing")
    if pre is not None:
        if not isinstance(pre, dict):
            raise StoreError("info.json's 'preprocessing' is not an object")
        mean = text(pre.get("use_mean"), "use_mean", 10, "none")
        if mean not in USE_MEAN:
            raise StoreError(f"info.json's 'use_mean' must be one of {', '.join(USE_MEAN)}")
        crop = pre.get("crop_size")
        if crop is not None:
            side = min(out["image dimensions"][:2]) if "image dimensions" in out else MAX_DIM
            crop = integer(crop, "crop_size", 1, side)
        out["preprocessing"] = {"use_mean": mean, "crop_size": crop}
    for key, check in (("sha256", _digest), ("sizes", lambda v, n: integer(v, f"sizes of {n}", 0, MAX_FILE))):
        found = info.get(key)
        if found is None:
            continue
        if not isinstance(found, dict) or len(found) > 16:
            raise StoreError(f"info.json's {key!r} must be an object of at most 16 files")
        out[key] = {text(n, f"{key} file name", 128): check(v, n) for n, v in found.items()}
    return out


def _digest(value: Any, name: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", value):
        raise StoreError(f"info.json's sha256 of {str(name)[:80]!r} is not 64 hex digits")
    return value.lower()


def files_of(info: dict) -> dict[str, dict]:
    """The files a model's (clean) ``info.json`` names → ``{local name: {"name", "sha256",
    "size"}}``; StoreError for a name that leaves its folder or a model without weights or
    network. Digest and size keys match file names in any case."""
    hashes = {k.lower(): v for k, v in (info.get("sha256") or {}).items()}
    sizes = {k.lower(): v for k, v in (info.get("sizes") or {}).items()}
    out: dict[str, dict] = {}
    for key, local in FILE_KEYS:
        name = info.get(key)
        if name in (None, "") or local in out:
            continue
        if not isinstance(name, str) or not NAME.match(name) or ".." in name:
            raise StoreError(f"info.json's {key!r} names {str(name)[:80]!r}: only a file inside the model's folder")
        out[local] = {"name": name, "sha256": hashes.get(name.lower()), "size": sizes.get(name.lower())}
    for needed, what in (("model.pt", "snapshot file"), ("network.py", "model file")):
        if needed not in out:
            raise StoreError(f"info.json names no {what!r}")
    return out


def model_id(base: str, child: str) -> str:
    return hashlib.sha1(f"{base}{child}".encode()).hexdigest()[:16]


def read_model(base: str, child: Any, timeout: float) -> dict:
    """One model folder of a store: DIGITS's ``{dir_name, id, info}`` plus what the page shows
    (name, task, network, classes, input, size) or its ``error``: whatever is wrong with one
    entry is that entry's error alone."""
    entry: dict[str, Any] = {"dir_name": str(child)[:128], "id": model_id(base, str(child))}
    try:
        if not isinstance(child, str) or not NAME.match(child) or ".." in child:
            raise StoreError(f"master.json lists {str(child)[:80]!r}, not a folder name")
        info = clean_info(_get_json(base + urllib.parse.quote(child) + "/info.json", timeout))
        files = files_of(info)
    except StoreError as err:
        return {**entry, "error": str(err)}
    except Exception as err:  # noqa: BLE001 - a store's garbage is its own error, never a 500
        return {**entry, "error": f"info.json could not be read ({type(err).__name__})"}
    network = info.get("network")
    sizes = [f["size"] for f in files.values() if f["size"]]
    return {**entry, "info": info, "files": files, "name": info.get("name") or child,
            "task": info.get("task") or "image classification", "network": network,
            "standard": network in registry.names("classification"),
            "classes": info.get("classes"), "input": info.get("image dimensions"),
            "size": sum(sizes) if sizes else None, "framework": info.get("framework") or ""}


def read_store(url: str, timeout: float) -> dict:
    """A store's listing in DIGITS's shape (``base_url``, ``welcome_msg``, ``model_list``), or
    its ``error``; its models are read side by side, each under the same deadline."""
    try:
        base = base_url(url)
        master = _get_json(base + "master.json", timeout)
        if not isinstance(master, dict) or not isinstance(master.get("children"), list):
            raise StoreError(f"{base}master.json has no list of children")
        welcome = master.get("msg")
        welcome = welcome[:500] if isinstance(welcome, str) else ""
        welcome = "".join(c for c in welcome if unicodedata.category(c) != "Cc" and c not in BIDI)
    except StoreError as err:
        return {"base_url": url, "welcome_msg": "", "model_list": [], "error": str(err)}
    except Exception as err:  # noqa: BLE001
        return {"base_url": url, "welcome_msg": "", "model_list": [],
                "error": f"{url[:200]}: master.json could not be read ({type(err).__name__})"}
    children = master["children"][:MAX_CHILDREN]
    with ThreadPoolExecutor(max_workers=8) as pool:
        models = list(pool.map(lambda c: read_model(base, c, timeout), children))
    return {"base_url": base, "welcome_msg": welcome, "model_list": models}


REFRESH_SECONDS = 30.0  # ?refresh=1 reads the stores again at most this often


class Listing:
    """Every configured store, read in the background and shared: one read at a time, however
    many requests ask; a request waits for the first read (each transfer has its deadline) and
    later ones answer what was read last, while ``?refresh=1`` (at most every
    ``REFRESH_SECONDS``) reads again."""

    def __init__(self, urls: list[str], timeout: float, spawn) -> None:
        self.urls, self.timeout, self.spawn = urls, timeout, spawn
        self.stores: dict[str, dict] | None = None
        self.read_at = 0.0
        self.reading: threading.Event | None = None
        self._lock = threading.Lock()

    def _read(self, done: threading.Event) -> None:
        try:
            stores = {}
            with ThreadPoolExecutor(max_workers=4) as pool:
                for store in pool.map(lambda u: read_store(u, self.timeout), self.urls):
                    stores[store["base_url"]] = store
            self.stores, self.read_at = stores, time.time()
        finally:
            with self._lock:
                self.reading = None
            done.set()

    def get(self, refresh: bool = False) -> dict[str, dict]:
        with self._lock:
            due = self.stores is None or (refresh and time.time() - self.read_at >= REFRESH_SECONDS)
            if due and self.reading is None:
                self.reading = threading.Event()
                self.spawn(self._read, self.reading)
            waiting = self.reading
        if waiting is not None and (self.stores is None or refresh):
            # the whole read is bounded: the master, then the models side by side
            waiting.wait(self.timeout * 2 + 5)
        return self.stores if self.stores is not None else {
            u: {"base_url": u, "welcome_msg": "", "model_list": [], "error": "still being read"}
            for u in self.urls}


def listing(refresh: bool = False) -> dict[str, dict]:
    """Every configured store, read once in the background and shared (``refresh``: again, at
    most every ``REFRESH_SECONDS``)."""
    ext = current_app.extensions
    if "digitsx.store" not in ext:
        ext["digitsx.store"] = Listing(list(current_app.config.get("MODEL_STORES") or []),
                                       float(current_app.config.get("STORE_TIMEOUT") or 10),
                                       lambda fn, *a: threading.Thread(target=fn, args=a, daemon=True).start())
    return ext["digitsx.store"].get(refresh)
