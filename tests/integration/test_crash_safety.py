"""What kill -9s found, through a real server: the snapshot files are the truth (a snapshot
written but never stored is listed after a restart, at resume and at the job's end), and a
half-written ``snapshot_epoch_N.tmp`` never outlives its job."""
from __future__ import annotations

import pytest

from tests.conftest import wait_for
from tests.integration.test_server import create, session, status

pytestmark = pytest.mark.server


def snapshots(s, server, job_id) -> list:
    return [snap["epoch"] for snap in s.get(f"{server.url}/jobs/{job_id}.json").json()["result"].get("snapshots", [])]


def test_snapshot_files_are_the_truth_across_kill9_resume_and_end(server_factory):
    server = server_factory()
    s = session(server)
    ended = create(s, server, kind="test.train", name="ends", steps=6, delay=0.01, snapshot_every=2,
                   silent_snapshot=3, torn_snapshot=5)
    wait_for(lambda: status(s, server, ended["id"]) == "Done", 30, what="the job to end")
    assert snapshots(s, server, ended["id"]) == [2, 3, 4, 6]  # 3 never had an event
    assert not list((server.jobs_dir / ended["id"]).glob("*.tmp"))

    running = create(s, server, kind="test.train", name="killed", steps=100000, delay=0.02,
                     snapshot_every=10, silent_snapshot=15, torn_snapshot=17)
    folder = server.jobs_dir / running["id"]
    wait_for(lambda: (folder / "snapshot_epoch_20.pt").exists(), 30, what="a few snapshots")
    server.kill9()
    second = server_factory()
    s2 = session(second)
    job = s2.get(f"{second.url}/jobs/{running['id']}.json").json()
    assert job["status"] == "Interrupted"
    on_disk = sorted(int(p.stem.rsplit("_", 1)[1]) for p in folder.glob("snapshot_epoch_*.pt"))
    assert 15 in on_disk and snapshots(s2, second, running["id"]) == on_disk
    assert not list(folder.glob("*.tmp"))
    (folder / "snapshot_epoch_99.tmp").write_bytes(b"torn")  # as a worker killed mid-write leaves
    (folder / "snapshot_epoch_98.pt").write_bytes(b"w")  # and a file its server never heard of
    assert s2.post(f"{second.url}/jobs/{running['id']}/resume").ok
    assert not (folder / "snapshot_epoch_99.tmp").exists() and 98 in snapshots(s2, second, running["id"])
    wait_for(lambda: status(s2, second, running["id"]) == "Running", 30, what="the resumed job")
    assert s2.post(f"{second.url}/jobs/{running['id']}/abort").ok


def test_a_job_waiting_behind_another_takes_the_prestarted_worker(server_factory):
    """When a job ends while another waits, the waiting job is handed to the new prestarted
    worker; no idle prestarted worker sits beside a running job."""
    import psutil

    server = server_factory(DIGITSX_PRESTART_WORKER="1", DIGITSX_CPU_TRAIN_SLOTS="1")
    s = session(server)

    def prestarted() -> list[int]:
        return [p.pid for p in psutil.process_iter(["cmdline"])
                if "digitsx.jobs.prestart" in (p.info["cmdline"] or [])
                and p.environ().get("DIGITSX_WORKER_OF") == str(server.jobs_dir.resolve())]

    for round_ in range(2):
        create(s, server, kind="test.prestart", name=f"first {round_}", steps=20, delay=0.05,
                gpu_count=1)  # no GPU here: one CPU training slot, so the second waits
        second = create(s, server, kind="test.prestart", name=f"second {round_}", steps=20, delay=0.05,
                        gpu_count=1)
        wait_for(lambda: status(s, server, second["id"]) == "Running", 60, what="the second job to run")
        worker = wait_for(lambda: s.get(f"{server.url}/jobs/{second['id']}.json").json()["result"]
                          .get("worker_pid"), 30, what="the second job's worker")
        assert prestarted() == [worker], (round_, prestarted(), worker)  # it is the prestarted one, alone
        wait_for(lambda: status(s, server, second["id"]) == "Done", 60, what="the second job to end")
