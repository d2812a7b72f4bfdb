"""The CUDA checks: every task trained, stopped, resumed, served and exported on a GPU, nvJPEG,
the prestarted worker and NCCL. CPU tests have missed CUDA-only breakage before (resume broke on
every GPU job), so a GPU host runs these: ``bash scripts/gpu_checks.sh`` (it also runs the
benches). Without CUDA they are skipped; ``DIGITSX_TEST_DEVICE=cpu`` runs them on the CPU, to
check the tests themselves."""
from __future__ import annotations

import os

import pytest
import torch

from tests.datasets.conftest import data_root  # noqa: F401 (the fixture, shared)

DEVICE = os.environ.get("DIGITSX_TEST_DEVICE") or ("cuda" if torch.cuda.is_available() else "")

gpu = [pytest.mark.gpu, pytest.mark.server,
       pytest.mark.skipif(not DEVICE, reason="no CUDA device (a GPU host runs scripts/gpu_checks.sh)")]
