"""Worker: train a segmentation network on a digitsx segmentation dataset.

    python -m digitsx.segmentation.train JOB_DIR
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ..engine.loop import TrainingError
from ..engine.spec import TrainingSpec
from ..engine.trainer import Trainer
from ..jobs.protocol import Emitter, run_worker
from .task import SegmentationTask


def train(folder: Path, out: Emitter) -> None:
    spec = TrainingSpec.from_dict(json.loads((folder / "spec.json").read_text()))
    Trainer(folder, spec, out, SegmentationTask(spec)).run()


def main(job_dir: str) -> int:
    return run_worker(train, job_dir, (TrainingError, FileNotFoundError, ValueError, KeyError))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
