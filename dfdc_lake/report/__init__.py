"""``dfdc-lake report``: a static HTML report of a lake (overview, family pages, what went wrong).

- ``facts``: the records and health of the lake, read so that a damaged lake still gets its report;
- ``families``: the deterministic sample of families, and only their rows read from the lake;
- ``family_page``: the original and its fakes frame by frame, difference heat maps, spectrograms;
- ``pages``: the overview (``index.html``) and the failures page; ``source_frames``: frames of
  ``no_face`` videos decoded from the source at report time;
- ``html`` and ``images``: string templates, inline SVG charts, and the pictures drawn with PIL;
- ``build``: puts it together and times it (``build_report``); the CLI is ``cli/report.py``.

Nothing is imported here, so ``dfdc-lake --help`` (which loads every command's arguments) stays fast.
"""
