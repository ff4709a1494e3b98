"""The transcription of the documented tables, as a tree."""

from __future__ import annotations

from asr_conformance import spec


def _children(table: str, parent: str | None) -> list[str]:
    return [f.name for f in spec.fields() if f.table == table and f.parent == parent]


def test_payload_tree():
    assert _children("payload", None) == ["inputs", "parameters"]
    assert _children("payload", "parameters") == ["return_timestamps", "generation_parameters"]
    gen = _children("payload", "parameters.generation_parameters")
    assert len(gen) == 16
    assert gen == [
        "temperature",
        "top_k",
        "top_p",
        "typical_p",
        "epsilon_cutoff",
        "eta_cutoff",
        "max_length",
        "max_new_tokens",
        "min_length",
        "min_new_tokens",
        "do_sample",
        "early_stopping",
        "num_beams",
        "num_beam_groups",
        "penalty_alpha",
        "use_cache",
    ]


def test_only_inputs_is_required_and_only_the_payload_table_marks_anything():
    assert [f.path for f in spec.fields() if f.required] == ["inputs"]


def test_body_tree_keeps_the_documented_plural_key():
    assert _children("body", None) == ["text", "chunks"]
    assert _children("body", "chunks") == ["text", "timestamps"]
    types = {f.path: f.type for f in spec.fields() if f.table == "body"}
    assert types == {
        "text": "string",
        "chunks": "object[]",
        "chunks.text": "string",
        "chunks.timestamps": "number[]",
    }


def test_headers_table():
    headers = {f.path: f for f in spec.fields() if f.table == "headers"}
    assert list(headers) == ["authorization", "x-use-cache", "x-wait-for-model"]
    assert headers["x-use-cache"].default is True
    assert headers["x-wait-for-model"].default is False
    assert headers["authorization"].quote == "'Bearer: hf_****'"


def test_early_stopping_is_two_booleans_and_one_string():
    (f,) = [f for f in spec.fields() if f.path.endswith(".early_stopping")]
    assert f.type == "enum"
    assert f.enum == ("never", True, False)
    assert [type(v) for v in f.enum] == [str, bool, bool]


def test_types_as_printed():
    types = {f.path.rsplit(".", 1)[-1]: f.type for f in spec.fields() if f.table == "payload"}
    assert types["top_k"] == "integer"
    assert types["top_p"] == "number"
    assert types["do_sample"] == "boolean"
    assert types["parameters"] == "object"


def test_constraint_quotes_are_short_and_the_documented_phrases():
    quotes = {f.name: f.quote for f in spec.fields() if f.quote}
    assert quotes["epsilon_cutoff"] == "strictly between 0 and 1"
    assert quotes["eta_cutoff"] == "strictly between 0 and 1"
    assert all(len(q) <= 40 for q in quotes.values())


def test_documented_request_schema_mirrors_the_tree():
    s = spec.schema("request", "documented")
    assert s["required"] == ["inputs"]
    gen = s["properties"]["parameters"]["properties"]["generation_parameters"]["properties"]
    assert len(gen) == 16
    assert gen["early_stopping"]["enum"] == ["never", True, False]
    assert "type" not in gen["early_stopping"]  # the table prints only "enum"
    chunk = spec.schema("response", "documented")["properties"]["chunks"]["items"]
    assert set(chunk["properties"]) == {"text", "timestamps"}
