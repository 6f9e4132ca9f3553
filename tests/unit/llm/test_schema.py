import json

import jsonschema
import pytest

from vulnsight.errors import ModelError
from vulnsight.llm.schema import VERDICT_SCHEMA, Verdict, parse_verdict, reply_prefix, schema_text


def test_schema_is_valid_json_schema_and_quoted_compactly():
    jsonschema.Draft202012Validator.check_schema(VERDICT_SCHEMA)
    assert json.loads(schema_text()) == VERDICT_SCHEMA


def test_parse_verdict_accepts_a_valid_reply():
    v = parse_verdict(
        '{"vulnerability": true, "type": "CWE-787", "line_number": 42, "confidence": 0.93}'
    )
    assert v == Verdict(vulnerability=True, type="CWE-787", line_number=42, confidence=0.93)


def test_parse_verdict_tolerates_fences_and_prose():
    v = parse_verdict(
        "Sure!\n```json\n"
        '{"vulnerability": false, "type": "none", "line_number": 0, "confidence": 0.2}'
        "\n```"
    )
    assert v.vulnerability is False and v.type == "none"


@pytest.mark.parametrize(
    "reply",
    [
        "no json here",
        '{"vulnerability": true, "type": "CWE-787", "line_number": 4, "confidence": 10}',
        '{"vulnerability": true, "type": "buffer overflow", "line_number": 4, "confidence": 0.5}',
        '{"vulnerability": true, "type": "CWE-787", "line_number": -1, "confidence": 0.5}',
        '{"vulnerability": true, "type": "CWE-787", "line_number": 4}',
        '{"vulnerability": true, "type": "CWE-787", "line_number": 4, "confidence": 0.5, "x": 1}',
    ],
)
def test_parse_verdict_rejects_what_the_schema_rejects(reply):
    with pytest.raises(ModelError):
        parse_verdict(reply)
    # and the JSON schema agrees wherever the reply is JSON at all
    try:
        data = json.loads(reply)
    except json.JSONDecodeError:
        return
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, VERDICT_SCHEMA)


def test_reply_prefix_is_the_first_field():
    assert reply_prefix() == '{"vulnerability":'
