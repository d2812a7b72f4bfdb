#!/usr/bin/env bash
# The checks a GPU session runs (CPU tests do not prove the CUDA path). On the device machine,
# from the repo root, with the wheels of scripts/gpu_wheels.sh carried in .whl:
#
#   bash scripts/gpu_checks.sh tests    # tests/gpu: each task trained, killed, resumed, served
#                                       # and exported on CUDA; nvJPEG; NCCL with two GPUs
#   bash scripts/gpu_checks.sh bench    # bench/train_gpu.py: jobs against bare loops, in memory
#   bash scripts/gpu_checks.sh stream   # the same, streamed from LMDB (nvJPEG), then train_e2e
#
# Each step fits one 10-minute device call. Logs and figures go to $OUT (./gpu-out without it).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-gpu-out}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
py=python3
if ! $py -c "import flask, gevent, lmdb, digitsx" 2>/dev/null; then
  ls .whl/*.whl >/dev/null 2>&1 || { echo "no .whl/: run scripts/gpu_wheels.sh here and carry .whl" >&2; exit 2; }
  $py -m pip install -q --no-index --no-deps --no-cache-dir .whl/*.whl || exit 2
  # digitsx itself (its digitsx-devserver entry point), from this tree, offline.
  $py -m pip install -q --no-index --no-deps --no-build-isolation -e . || exit 2
fi
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  $py -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.version.cuda, 'GPUs', torch.cuda.device_count())"
  nproc; } 2>&1 | tee "$out/machine.txt"
step=${1:-tests}
case $step in
  tests)
    $py -m pytest -q -p no:cacheprovider -m gpu -W ignore::DeprecationWarning --durations=0 \
      tests/gpu 2>&1 | tee "$out/gpu-tests.log" ;;
  bench)
    $py bench/train_gpu.py 2>&1 | tee "$out/train_gpu.txt" ;;
  stream)
    $py bench/train_gpu.py --path stream 2>&1 | tee "$out/train_gpu_stream.txt"
    $py bench/train_e2e.py 2>&1 | tee "$out/train_e2e.txt" ;;
  *) echo "steps: tests, bench, stream" >&2; exit 2 ;;
esac
