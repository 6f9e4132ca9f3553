"""Loading, validation, the reserved-project filter, seeded sampling, snippet files."""

from __future__ import annotations

import json

import pytest

from vulnsight.bench.records import (
    filter_reserved,
    is_reserved,
    load_records,
    record_row,
    sample_records,
    snippet_path,
    write_batch,
)
from vulnsight.errors import ConfigError


def rec(i, label, source="s", project="o/p", language="python", pair=None, **kw):
    meta = {"pair_id": pair} if pair else {}
    return {
        "id": f"{source}:{i}",
        "language": language,
        "code": "x = 1\n",
        "label": label,
        "cwe": "CWE-89",
        "lines": [1] if label else [],
        "source": source,
        "project": project,
        "path": "a.py",
        "meta": meta,
        **kw,
    }


def write(tmp_path, rows, name="d.jsonl"):
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_load_validates_and_names_the_bad_line(tmp_path):
    good = write(tmp_path, [rec(1, 1), rec(2, 0)])
    records = load_records([good])
    assert [r.id for r in records] == ["s:1", "s:2"]
    bad = write(tmp_path, [rec(1, 1), {**rec(2, 0), "label": 2}], "bad.jsonl")
    with pytest.raises(ConfigError, match="bad.jsonl:2"):
        load_records([bad])
    with pytest.raises(ConfigError, match="duplicate"):
        load_records([good, good])


def test_reserved_projects_match_last_component_case_insensitively():
    assert is_reserved("expressjs/Express")
    assert is_reserved("pallets/flask")
    assert is_reserved("OpenZeppelin/openzeppelin-contracts")
    assert not is_reserved("flask-extras/thing")
    records = load_records_from([rec(1, 1, project="psf/requests"), rec(2, 0, project="a/b")])
    kept, dropped = filter_reserved(records)
    assert [r.id for r in kept] == ["s:2"] and dropped == 1


def load_records_from(rows):
    from vulnsight.bench.records import parse_record

    return [parse_record(r) for r in rows]


def test_sampling_is_seeded_balanced_and_keeps_pairs_together():
    rows = [rec(i, i % 2, pair=f"p{i // 2}") for i in range(40)]
    rows += [rec(i, 1, source="t") for i in range(30)] + [
        rec(100 + i, 0, source="t") for i in range(5)
    ]
    records = load_records_from(rows)
    a = sample_records(records, 10, seed=1)
    assert a == sample_records(list(reversed(records)), 10, seed=1)
    assert a != sample_records(records, 10, seed=2)
    s = [r for r in a if r.source == "s"]
    t = [r for r in a if r.source == "t"]
    assert len(s) == 10 and sum(r.label for r in s) == 5
    pairs = {r.pair_id for r in s}
    assert all(sum(1 for r in s if r.pair_id == p) == 2 for p in pairs)
    # Only 5 clean records in t: the vulnerable side fills the rest.
    assert len(t) == 10 and sum(1 for r in t if r.label == 0) == 5


def test_snippets_get_the_language_extension_and_python_is_dedented(tmp_path):
    rows = [rec(1, 1, language="c"), {**rec(2, 0), "code": "    def f(self):\n        return 1"}]
    records = load_records_from(rows)
    paths = write_batch(records, tmp_path)
    assert paths["s:1"].endswith(".c") and paths["s:2"].endswith(".py")
    assert snippet_path(records[0]) == paths["s:1"]
    assert (tmp_path / paths["s:2"]).read_text() == "def f(self):\n    return 1\n"


def test_record_row_round_trips_through_the_loader(tmp_path):
    row = {
        "id": "s:1",
        "language": "python",
        "code": "def f(x):\n    return eval(x)\n",
        "label": 1,
        "cwe": "CWE-94",
        "lines": [2],
        "source": "sven",
        "project": "p",
        "path": "a.py",
        "meta": {"pair_id": "q7"},
    }
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(row) + "\n")
    (record,) = load_records([path])
    assert record.pair_id == "q7"
    assert record_row(record) == row


def test_gzipped_jsonl_loads_like_plain(tmp_path):
    import gzip

    rows = [rec(1, 1, source="fixes", pair="fx:1"), rec(2, 0, source="fixes", pair="fx:1")]
    plain = write(tmp_path, rows, "pairs.jsonl")
    packed = tmp_path / "pairs.jsonl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    plain_records = load_records([plain])
    packed_records = load_records([packed])
    assert [(r.id, r.label, r.pair_id) for r in packed_records] == [
        ("fixes:1", 1, "fx:1"),
        ("fixes:2", 0, "fx:1"),
    ]
    assert packed_records == plain_records
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(ConfigError, match="cannot read .*bad.jsonl.gz"):
        load_records([bad])
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(packed.read_bytes()[:-12])
    with pytest.raises(ConfigError, match="cannot read .*cut.jsonl.gz"):
        load_records([cut])
