"""The processing of one clip and one family, in plain Python: no Ray, no lake, testable alone.

- decoding: ``clip`` (bytes or a file), ``decode`` (probe, first pass, segments), ``decode_pyav``
  (reference frames only), ``frames`` (YUV/RGB frames, downscaling), ``heap`` (the worker's heap);
- faces: ``faces`` (MTCNN), ``mtcnn_ops``, ``track_finder`` (the detection loop), ``windows`` (faces
  looked for around their paths between detected frames), ``tracker`` (IoU tracks), ``crops``,
  ``exposure``;
- audio: ``audio`` (mono 16 kHz, log-mel);
- labels: ``labels`` (per-modality labels from a fake and its original);
- putting it together: ``analysis`` (one clip), ``family`` (an original and its fakes).

May import ``records``, ``config``, ``errors`` and each other; never ``ray``, ``lake``, ``ingest``,
``plan``, ``train`` or ``cli``.
"""
