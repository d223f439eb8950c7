import pytest

from dfdc_lake.config import Config, load_config
from dfdc_lake.errors import ConfigError


def test_yaml_file_and_overrides_load_and_change_the_hash(tmp_path):
    path = tmp_path / "ingest.yaml"
    path.write_text("decode:\n  frame_stride: 5\nray:\n  chunks_in_flight: 3\n")
    config = load_config(path, ["crops.margin=0.5"])
    assert config.decode.frame_stride == 5 and config.crops.margin == 0.5
    assert config.config_hash() != Config().config_hash()
    # Scheduling settings do not change the hash: moving a run to a cluster keeps its commits valid.
    assert load_config(None, ["ray.chunks_in_flight=7"]).config_hash() == Config().config_hash()


@pytest.mark.parametrize(
    ("text", "overrides", "message"),
    [
        ("decode: [1, 2", [], "does not parse"),
        ("- a\n- b\n", [], "must hold a mapping"),
        ("decode:\n  frame_stride: 0\n", [], "frame_stride"),
        ("{}", ["decode.nope=1"], "has no setting 'nope'"),
        ("{}", ["frame_stride=1"], "section.key=value"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path, text, overrides, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, overrides)
