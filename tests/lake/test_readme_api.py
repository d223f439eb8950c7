"""docs/querying.md's first Python example (reading a lake) runs as written, against a real (local) lake."""

from __future__ import annotations

import re
from pathlib import Path

from tests.train.synthetic_lake import LakeSpec, lake_dir

PAGE = Path(__file__).resolve().parents[2] / "docs" / "querying.md"


def test_the_lake_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    example = next(block for block in blocks if "Lake.open(" in block)
    lake = lake_dir(tmp_path, LakeSpec(families=8, parts=4, chunks_per_part=1))
    code = re.sub(r'Lake\.open\("[^"]+"\)', f"Lake.open({str(lake)!r})", example)
    namespace: dict = {}
    exec(compile(code, "docs/querying.md", "exec"), namespace)
    assert namespace["records"] and namespace["run"] is not None
    assert namespace["urls"] and all(url.endswith(".parquet") for url in namespace["urls"])
    rows = list(namespace["rows"])
    assert rows and set(rows[0]) == {"sample_id", "label"}
    assert namespace["table"].num_rows > len(rows)  # rows: parts 0 and 1 of 4
