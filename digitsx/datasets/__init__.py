"""Image classification datasets: the form, the LMDB-building worker, the page and Explore.

Importing this package stays light: the worker (``build``) must not pull in Flask; the web
side registers through :mod:`digitsx.datasets.plugin`.
"""

CLASSIFICATION = "dataset.images.classification"
