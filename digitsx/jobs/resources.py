"""A pure pool of resources: one exclusive slot per GPU, CPU slots, CPU training slots.

No I/O and no clock: the scheduler asks, the pool answers; tests drive it with fake GPU ids.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import SchedulingError


@dataclass(frozen=True)
class Request:
    """What a job needs: ``gpu_count`` next free GPUs, specific ``gpu_ids``, or ``cpu`` slots."""

    gpu_count: int = 0
    gpu_ids: tuple[int, ...] = ()
    cpu: int = 0

    @property
    def wants_gpu(self) -> bool:
        """True for a request that a GPU (or, on a host without one, a CPU training slot) serves."""
        return bool(self.gpu_count or self.gpu_ids)

    def to_dict(self) -> dict:
        """The request as stored in a job's spec."""
        return {"gpu_count": self.gpu_count, "gpu_ids": list(self.gpu_ids), "cpu": self.cpu}

    @classmethod
    def from_dict(cls, data: dict | None) -> "Request":
        """Inverse of :meth:`to_dict`."""
        data = data or {}
        return cls(int(data.get("gpu_count", 0)), tuple(int(g) for g in data.get("gpu_ids", ())),
                   int(data.get("cpu", 0)))


@dataclass(frozen=True)
class Reservation:
    """What a job holds while it runs. ``gpus`` empty and ``device == 'cpu'``: no GPU."""

    gpus: tuple[int, ...] = ()
    cpu: int = 0
    train_slot: bool = False

    @property
    def device(self) -> str:
        """``cuda`` when the job holds GPUs, else ``cpu``."""
        return "cuda" if self.gpus else "cpu"


@dataclass
class ResourcePool:
    """The slots of this host; ``holders`` maps a job id to its reservation."""

    gpus: tuple[int, ...] = ()
    cpu_slots: int = 2
    cpu_train_slots: int = 1
    holders: dict[str, Reservation] = field(default_factory=dict)

    def busy_gpus(self) -> set[int]:
        """GPU ids some job holds."""
        return {g for r in self.holders.values() for g in r.gpus}

    def free_gpus(self) -> list[int]:
        """GPU ids nobody holds, in order."""
        busy = self.busy_gpus()
        return [g for g in self.gpus if g not in busy]

    def validate(self, request: Request) -> None:
        """Raise SchedulingError for a request this host can never satisfy."""
        unknown = [g for g in request.gpu_ids if g not in self.gpus]
        if self.gpus and unknown:
            raise SchedulingError(f"GPU {', '.join(map(str, unknown))} does not exist on this "
                                  f"host (GPUs: {', '.join(map(str, self.gpus)) or 'none'})")
        if self.gpus and request.gpu_count > len(self.gpus):
            raise SchedulingError(f"{request.gpu_count} GPUs requested but this host has "
                                  f"{len(self.gpus)}")
        if request.cpu > self.cpu_slots:
            raise SchedulingError(f"{request.cpu} CPU slots requested but only "
                                  f"{self.cpu_slots} are configured")

    def try_reserve(self, job_id: str, request: Request,
                    blocked: frozenset[int] = frozenset()) -> Reservation | None:
        """Reserve for ``job_id`` and return the reservation, or None if it must wait.

        ``blocked`` GPUs are free but promised to a job earlier in the queue (FIFO).
        """
        self.validate(request)
        if job_id in self.holders:
            return self.holders[job_id]
        cpu_free = self.cpu_slots - sum(r.cpu for r in self.holders.values())
        if request.cpu > cpu_free:
            return None
        reservation = self._gpu_part(request, blocked)
        if reservation is None:
            return None
        reservation = Reservation(reservation.gpus, request.cpu, reservation.train_slot)
        self.holders[job_id] = reservation
        return reservation

    def _gpu_part(self, request: Request, blocked: frozenset[int]) -> Reservation | None:
        if not request.wants_gpu:
            return Reservation()
        if not self.gpus:  # no GPU on this host: training runs on the CPU, in a train slot
            used = sum(1 for r in self.holders.values() if r.train_slot)
            return Reservation(train_slot=True) if used < self.cpu_train_slots else None
        free = [g for g in self.free_gpus() if g not in blocked]
        if request.gpu_ids:
            wanted = tuple(request.gpu_ids)
            return Reservation(gpus=wanted) if all(g in free for g in wanted) else None
        if len(free) < request.gpu_count:
            return None
        return Reservation(gpus=tuple(free[:request.gpu_count]))

    def release(self, job_id: str) -> Reservation | None:
        """Give back what ``job_id`` holds (a no-op if it holds nothing)."""
        return self.holders.pop(job_id, None)
