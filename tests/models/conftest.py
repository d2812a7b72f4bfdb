"""The dataset fixtures (a real server with MNIST digits under its data root) serve here too."""
import pytest

from tests.conftest import wait_for
from tests.datasets.conftest import data_root, dataset_server, mnist_tree  # noqa: F401


@pytest.fixture
def mnist_dataset(dataset_server, mnist_tree):
    server = dataset_server
    res = server.session.post(server.url + "/datasets/images/classification.json", data={
        "dataset_name": "mnist", "folder_train": str(mnist_tree), "resize_channels": 1,
        "resize_width": 28, "resize_height": 28, "folder_pct_val": 25})
    job_id = res.json()["id"]
    wait_for(lambda: server.session.get(f"{server.url}/datasets/{job_id}/status").json()["status"] == "Done",
             60, 0.2, "dataset")
    return server, job_id
