"""Worker: train an object detector on a digitsx detection dataset.

    python -m digitsx.detection.train JOB_DIR

The engine (:mod:`digitsx.engine`) runs the job; :class:`~.task.DetectionTask` says what
detection is: loss components while training and validating, COCO mAP on validation.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..engine.loop import TrainingError
from ..engine.spec import TrainingSpec
from ..engine.trainer import Trainer
from ..jobs.protocol import Emitter, run_worker
from .task import DetectionTask


def train(folder: Path, out: Emitter) -> None:
    spec = TrainingSpec.from_dict(json.loads((folder / "spec.json").read_text()))
    Trainer(folder, spec, out, DetectionTask(spec)).run()


def main(job_dir: str) -> int:
    """Entry point: 0 when trained, 2 for a problem the user can fix, 1 for a bug."""
    return run_worker(train, job_dir, (TrainingError, FileNotFoundError, ValueError, KeyError))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
