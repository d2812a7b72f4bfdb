"""The dataset fixtures (a real server with MNIST digits under its data root) serve here too."""
from tests.datasets.conftest import data_root, dataset_server, mnist_tree  # noqa: F401
from tests.models.conftest import mnist_dataset  # noqa: F401
