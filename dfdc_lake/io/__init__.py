"""Storage plumbing shared by the source reader and the lake, with no opinion about either.

- ``retry``: bounded exponential backoff for transient I/O errors, from an explicit allow-list.
- ``s3_settings``: the S3 endpoint and credentials from the standard AWS environment, the fsspec
  storage options built from them, and redaction of every secret seen.

Nothing is imported here, so importing a submodule stays cheap.
"""
