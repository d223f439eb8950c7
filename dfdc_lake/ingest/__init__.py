"""The ingest run on Ray: catalog -> chunk plan -> family-group tasks -> shards -> commit records.

- ``driver``: ``ingest()``, the run: holds the lake lock, skips committed chunks, records the run;
- ``scheduler``: which family-group task runs next and when a chunk commits;
- ``actors``: the Ray pieces (detector actors on GPUs where there are GPUs, the family-group task);
- ``chunk``: a chunk's work in plain Python (family groups through the stages, then the commit);
- ``progress``: videos done/total, rate and ETA, printed at a steady pace.

May import ``stages``, ``lake``, ``source``, ``io``, ``plan`` and the top-level modules; never
``train`` or ``cli``. With ``plan/`` and ``train/`` it is one of the only places that build Ray
tasks and actors.
"""
