"""Worker: train an image classification network on a digitsx dataset.

    python -m digitsx.classification.train JOB_DIR

The engine (:mod:`digitsx.engine`) runs the job; :class:`~.task.ClassificationTask` says what
classification is. Writes ``snapshot_epoch_<e>.pt`` (weights, optimizer, scaler, RNG, epoch:
enough to resume) and ``network.json``; emits train metrics several times per epoch and
validation loss / top-1 / top-5 (percent) at each validation. Continues from the newest
snapshot in the folder when there is one (resume).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..engine.loop import TrainingError
from ..engine.spec import TrainingSpec
from ..engine.trainer import Trainer, make_optimizer
from ..jobs.protocol import Emitter, run_worker
from .task import ClassificationTask

__all__ = ["Trainer", "TrainingError", "make_optimizer", "main", "train"]


def train(folder: Path, out: Emitter) -> None:
    spec = TrainingSpec.from_dict(json.loads((folder / "spec.json").read_text()))
    Trainer(folder, spec, out, ClassificationTask(spec)).run()


def main(job_dir: str) -> int:
    """Entry point: 0 when trained, 2 for a problem the user can fix, 1 for a bug."""
    return run_worker(train, job_dir, (TrainingError, FileNotFoundError, ValueError, KeyError))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
