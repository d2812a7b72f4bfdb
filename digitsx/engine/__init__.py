"""The task-neutral training engine: what every task's training job shares.

- :mod:`.task`: the interface a task implements (data, network, loss, metrics);
- :mod:`.loop`: ``train_one_epoch`` and ``evaluate`` as functions with explicit arguments, in
  the shape of torchvision's ``references/*/train.py``;
- :mod:`.trainer`: device and ``CUDA_VISIBLE_DEVICES``, DDP, AMP and channels_last, solver
  and LR policy, the epoch loop with validation and snapshot intervals, save / restore /
  resume with rewind, the NaN guard and seeds.

A task's worker is then a few lines: ``run_training(folder, spec, out, MyTask(spec))``.
"""
