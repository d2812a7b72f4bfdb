"""Which GPUs this server may use: NVML's devices, filtered by CUDA_VISIBLE_DEVICES and config."""
from __future__ import annotations

from typing import Any

from ..config import parse_list


def visible_filter(devices: list[dict[str, Any]], cuda_visible: str | None) -> list[dict[str, Any]]:
    """Keep the devices ``CUDA_VISIBLE_DEVICES`` names (indexes or UUID prefixes), in its order."""
    if cuda_visible is None:
        return devices
    kept = []
    for token in (t.strip() for t in cuda_visible.split(",")):
        if not token:
            continue
        if token.isascii() and token.isdigit():
            match = [d for d in devices if d["index"] == int(token)]
        else:
            match = [d for d in devices if d["uuid"].startswith(token)]
        if not match:
            break  # CUDA stops at the first invalid entry
        kept.extend(m for m in match if m not in kept)
    return kept


def discover(nvml: Any, configured: Any = None,
             cuda_visible: str | None = None) -> list[dict[str, Any]]:
    """The usable devices: NVML's, then ``cuda_visible`` (the server's CUDA_VISIBLE_DEVICES;
    None for no filter), then the configured index list."""
    if not nvml.available:
        return []
    devices = visible_filter([nvml.device(i) for i in range(nvml.count())], cuda_visible)
    wanted = parse_list(configured, int)
    if wanted is not None:
        devices = [d for d in devices if d["index"] in wanted]
    return devices
