#!/usr/bin/env bash
# Run here, before a GPU session's first device call: downloads into .whl/ (git ignores it) the
# wheels a GPU host lacks, for its CPython 3.12 on x86-64, at the versions our own .venv tests
# (scripts/test.sh made it). The host's image already has torch, torchvision, numpy, pillow,
# onnx, onnxruntime, psutil, torchmetrics, nvidia-ml-py, pyyaml, requests and pytest; it has no
# network. Then carry .whl in every device call and run scripts/gpu_checks.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
exclude=.git/info/exclude
mkdir -p "$(dirname "$exclude")"
grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"
# What the web process and the workers import beyond the image (and their own needs).
names="flask flask-socketio python-socketio python-engineio simple-websocket wsproto bidict
werkzeug jinja2 markupsafe click itsdangerous blinker sqlalchemy greenlet gevent zope.event
zope.interface lmdb argon2-cffi argon2-cffi-bindings cffi pycparser flask-wtf wtforms limits
deprecated wrapt h11 faster-coco-eval pycocotools defusedxml"
pins=()
for name in $names; do
  version=$(.venv/bin/python -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p' || true)
  pins+=("$name${version:+==$version}")
done
rm -rf .whl && mkdir .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${pins[@]}"
du -sh .whl
