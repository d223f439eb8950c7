"""The DFDC source, read only: ``storage`` (a root, part folder or zips, local or ``s3://``, members
read in place), ``metadata`` (each part's ``metadata.json``, validated) and ``catalog`` (every video,
grouped into families of an original and its fakes).

May import ``io``, ``records``, ``config`` and ``errors``; nothing here ever writes to the source.
"""
