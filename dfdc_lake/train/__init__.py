"""Training and inference on a lake, grouped by role. Stands beside ``ingest/`` on ``lake/``.

- ``config``: the validated ``TrainConfig`` (its own hash, apart from the ingest config).
- ``driver/``: what runs on the driver: ``trainer`` (lake index -> folds ->
  input pipeline -> Ray Train), ``lake_index`` (what training knows from commit records), ``folds``
  and ``run_files`` (run.json, folds.json, metrics.jsonl next to the checkpoints).
- ``inputs/``: the worker's input pipeline: ``features`` (lake rows -> model inputs), ``order`` (the
  run's seeded sample order, dealt to ranks) and ``batches`` (shards read through the lake's reader).
- ``model/``: the detector (``network``), one epoch and one evaluation pass (``steps``), the function
  each Ray Train worker runs (``worker_loop``), where it starts from (``resume``: epoch and step
  checkpoints), DFDC's scores (``metrics``) and the per-epoch
  validation summary (``validation``).
- ``inference/``: ``checkpoint`` (load a trained detector), ``scorer`` (raw video -> P(fake)). The ``train`` and ``predict``
  commands are in ``cli/``.
"""
