"""What every task's models share: the engine's model form (:mod:`.forms`), the network
registry, creating model jobs, test-job submission and one-image requests (:mod:`.testing`),
DIGITS's generic routes, downloads and export packing, and who may run submitted code.

Importing this package stays light (no torch, no Flask). The task packages
(:mod:`digitsx.classification`, :mod:`digitsx.detection`, :mod:`digitsx.segmentation`) build on
it; nothing here imports them.
"""

# The kinds other tasks name: a detector's or segmenter's backbone may start from an image
# classification model's snapshot or a pretrained model (digitsx.classification defines them).
CLASSIFICATION = "model.images.classification"
PRETRAINED = "model.pretrained"
