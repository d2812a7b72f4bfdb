"""Detection and segmentation JPEG datasets streamed undecoded: loader processes read LMDB and
pass the JPEG bytes, the training process decodes each batch on the device (nvJPEG on CUDA;
``decode=device`` runs the same path on the CPU here). PNG datasets stream decoded, as before."""
from __future__ import annotations

import pytest
import torch

from digitsx.engine.data import loader
from digitsx.engine.spec import TrainingSpec
from tests.conftest import api_session
from tests.datasets.conftest import data_root  # noqa: F401 (the fixture, shared)

pytestmark = pytest.mark.server
NETWORKS = {"detection": "ssdlite320_mobilenet_v3_large", "segmentation": "lraspp_mobilenet_v3_large"}


def dataset(server_factory, data_root, task: str, encoding: str):  # noqa: F811
    server = server_factory(DIGITSX_DATA_ROOTS=str(data_root))
    server.session = api_session(server)
    if task == "detection":
        from digitsx.detection.shapes import write_shapes
        from tests.detection.conftest import build, shapes_fields

        shapes = write_shapes(data_root / "shapes", train=8, val=4, width=64, height=64, sizes=(16, 28))
        done = build(server, shapes_fields(shapes, "voc", dsopts_feature_encoding=encoding))
    else:
        from digitsx.segmentation.shapes import write_shapes
        from tests.segmentation.conftest import build, fields

        shapes = write_shapes(data_root / "seg", train=8, val=4, width=64, height=64)
        done = build(server, fields(shapes, dsopts_feature_encoding=encoding))
    assert done["status"] == "Done", done
    return server.jobs_dir / done["id"]


def make_task(task: str, folder, decode: str):
    spec = TrainingSpec.from_dict({"dataset": {"dir": str(folder)}, "network": {"method": "standard", "name": NETWORKS[task]},
                                   "augment": {}, "decode": decode})
    if task == "detection":
        from digitsx.detection.task import DetectionTask as Kind
    else:
        from digitsx.segmentation.task import SegmentationTask as Kind
    made = Kind(spec)
    made.device = torch.device("cpu")
    return made


@pytest.mark.parametrize("task", ["detection", "segmentation"])
def test_jpeg_batches_are_read_as_bytes_and_decoded_on_the_device(server_factory, data_root, task):  # noqa: F811
    folder = dataset(server_factory, data_root, task, "jpg")
    cpu = torch.device("cpu")
    on_device = make_task(task, folder, "device")
    split = on_device.dataset().split("train")
    streamed, collate = on_device.streamed(split)
    assert getattr(streamed, "encoded", False) and len(streamed) == len(split) == 8
    batches = list(loader(streamed, 4, False, 1, 0, False, None, collate))  # a real loader process
    images, targets = batches[0]
    assert all(t.dim() == 1 and t.dtype == torch.uint8 and t[:2].tolist() == [0xFF, 0xD8] for t in images)
    x, y = on_device.to_device(batches[0], cpu, False, False, None)

    on_host = make_task(task, folder, "host")
    assert on_host.streamed(split)[0] is split  # decode=host: the loader decodes, as before
    host_batch = on_host.collate([split[i] for i in range(4)]) if on_host.collate else \
        torch.utils.data.default_collate([split[i] for i in range(4)])
    hx, hy = on_host.to_device(host_batch, cpu, False, False, None)
    if task == "detection":  # lists of float images and targets
        assert len(x) == len(hx) == 4
        assert max((a - b).abs().max().item() for a, b in zip(x, hx)) <= 2 / 255  # libjpeg builds round differently
        assert all(torch.equal(a["boxes"], b["boxes"]) and torch.equal(a["labels"], b["labels"]) for a, b in zip(y, hy))
    else:
        assert x.shape == hx.shape == (4, 3, 64, 64) and (x - hx).abs().max() <= 2 / 255
        assert torch.equal(y, hy)  # the class maps: decoded by the loader either way


@pytest.mark.parametrize("task", ["detection", "segmentation"])
def test_png_datasets_stream_decoded(server_factory, data_root, task):  # noqa: F811
    folder = dataset(server_factory, data_root, task, "png")
    made = make_task(task, folder, "device")
    split = made.dataset().split("train")
    assert made.streamed(split)[0] is split  # nothing to decode on the device: PNG is not nvJPEG's
