"""What an ingest would do and cost, before (and while) it does it. No Ray.

- ``chunks``: families packed into chunks (the unit of commit) and chunks split into family groups
  (the unit of work), started largest first;
- ``counts``: the catalog and chunk plan summed up as counts (``dfdc-lake plan``'s first half);
- ``clip_costs``: what one clip costs, measured on a sample of the source on this machine;
- ``estimate``: the run's wall time and lake size, scaled from those costs.

May import ``stages``, ``lake``, ``source``, ``io`` and the top-level modules; never ``ingest``,
``train`` or ``cli``.
"""
