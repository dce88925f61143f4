"""Attacks through a model's config.json: every field the RoPE plan reads is validated, so a
damaged config is one clear error (never a traceback, never a silently wrong plan)."""

import json

import pytest

from zhllama.core.rope_scaling import describe, plan
from zhllama.errors import RopeScalingError

GOOD = {
    "max_position_embeddings": 4096,
    "hidden_size": 4096,
    "num_attention_heads": 32,
    "rope_theta": 10000.0,
}
BAD = [
    ({"rope_scaling": {"type": "linear", "factor": float("nan")}}, "factor"),
    ({"rope_scaling": {"type": "linear", "factor": "four"}}, "factor"),
    ({"rope_scaling": {"type": "linear", "factor": 0.5}}, "factor"),
    ({"rope_scaling": {"type": "linear", "factor": float("inf")}}, "factor"),
    ({"rope_scaling": {"type": "linear"}}, "factor"),
    ({"rope_scaling": {"type": "ntk-by-parts", "factor": 2}}, "unsupported shipped rope type"),
    ({"rope_scaling": [1, 2]}, "must be a JSON object"),
    ({"rope_scaling": {"type": "yarn", "factor": 16, "original_max_position_embeddings": -1}}, "original"),
    ({"max_position_embeddings": 0}, "max_position_embeddings"),
    ({"max_position_embeddings": -4096}, "max_position_embeddings"),
    ({"max_position_embeddings": 4096.5}, "max_position_embeddings"),
    ({"max_position_embeddings": "4096"}, "max_position_embeddings"),
    ({"max_position_embeddings": None}, "max_position_embeddings"),
    ({"rope_theta": "abc"}, "rope_theta"),
    ({"rope_theta": -1}, "rope_theta"),
    ({"rope_theta": 0.5}, "rope_theta"),
    ({"head_dim": 0}, "head_dim"),
    ({"head_dim": 33}, "head_dim"),
    ({"head_dim": True}, "head_dim"),
    ({"num_attention_heads": 0}, "num_attention_heads"),
    ({"hidden_size": "big"}, "hidden_size"),
]


@pytest.mark.parametrize(("change", "field"), BAD, ids=[str(change) for change, _ in BAD])
def test_every_field_the_plan_reads_is_checked(change, field):
    config = {**GOOD, **change}
    with pytest.raises(RopeScalingError, match=field):
        describe(config)
    with pytest.raises(RopeScalingError, match=field):
        plan(config, 16384)


@pytest.mark.parametrize(("change", "field"), BAD[:8] + BAD[13:17], ids=str)
def test_rope_plan_on_a_damaged_config_is_one_line(tmp_path, refuses, change, field):
    (tmp_path / "config.json").write_text(json.dumps({**GOOD, **change}).replace("NaN", "NaN"))
    refuses("rope", "plan", tmp_path, "--context", "16384", says=field)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not an object"),
        (b"\xff\xfe{", "not UTF-8"),
        (b"", "not valid JSON"),
    ],
)
def test_a_config_file_that_is_not_a_json_object_is_named(tmp_path, refuses, content, says):
    (tmp_path / "config.json").write_bytes(content)
    refuses("rope", "plan", tmp_path, "--context", "8192", says=says)
    refuses("vllm", "args", tmp_path, "--context", "8192", says=says)


def test_a_folder_without_config_and_a_missing_path_are_named(tmp_path, refuses):
    refuses("rope", "plan", tmp_path, "--context", "8192", says="has no config.json")
    refuses("rope", "plan", tmp_path / "nope", "--context", "8192", says="does not exist")


@pytest.mark.parametrize("context", ["0", "-5", "many"])
def test_a_bad_target_context_is_a_usage_error(tmp_path, refuses, context):
    (tmp_path / "config.json").write_text(json.dumps(GOOD))
    refuses("rope", "plan", tmp_path, "--context", context, status=2)
