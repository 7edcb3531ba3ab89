"""Rasa NLU YAML import/export: the repository's data round-trips; bad files are rejected with the
line and the reason (nothing is returned for a file with an error)."""

from __future__ import annotations

import pytest

from nlu import training
from nlu.yaml_io import Block, NluYamlError, dump_nlu_yaml, normalize_answer, parse_nlu_yaml, read_answers, read_nlu_dir


def test_the_repository_data_reads_and_round_trips():
    blocks = read_nlu_dir(training.DATA_DIR)
    kinds = {b.kind for b in blocks}
    assert kinds == {"intent", "regex", "lookup", "synonym"}
    names = {b.name for b in blocks if b.kind == "intent"}
    assert {"faq/service_hours", "emergency_fire", "greet"} <= names
    assert any(n.startswith("dept_") for n in names)
    again = parse_nlu_yaml(dump_nlu_yaml(blocks))
    assert [(b.kind, b.name, b.examples) for b in again] == [(b.kind, b.name, b.examples) for b in blocks]
    # entity annotations survive
    assert any("](region)" in ex for b in again for ex in b.examples)


def test_answers_file_reads_with_placeholders_kept():
    answers = read_answers(training.NLU_DIR / "faq_answers.yml")
    assert "{network_start}" in answers["faq/network_hotline_hours"]
    assert " " not in answers["faq/service_hours"].replace("7×24", "")[:40]
    assert normalize_answer("热线 电话\n") == "热线电话"


def test_line_numbers_point_at_the_example():
    text = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - 你好\n    没有横线\n'
    with pytest.raises(NluYamlError) as err:
        parse_nlu_yaml(text, "bad.yml")
    assert err.value.line == 6
    assert "应以" in err.value.reason
    assert "bad.yml" in str(err.value) and "第 6 行" in str(err.value)


@pytest.mark.parametrize(("text", "line", "reason"), [
    ('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - 你好\n  - bad: [\n', 6, "YAML"),
    ('version: "3.1"\nnlu:\n- intent: Greet Me\n  examples: |\n    - 你好\n', 3, "意图名"),
    ('version: "3.1"\nnlu:\n- intent: greet\n', 3, "缺少 examples"),
    ('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - 你好\n- intent: x\n  examples: |\n    - [新华区(region)\n',
     8, "实体标注"),
    ('version: "3.1"\nnlu:\n- regex: phone\n  examples: |\n    - (\\d+\n', 5, "正则"),
    ('version: "3.1"\nrules:\n- rule: x\n', 2, "只能导入 NLU"),
    ('version: "2.0"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n', 1, "版本"),
    ('version: "3.1"\nnlu:\n- intent: greet\n  synonym: x\n  examples: |\n    - hi\n', 3, "只能有"),
    ('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    -\n', 5, "空例句"),
    ("", 1, "为空"),
])
def test_bad_files_are_rejected_with_line_and_reason(text, line, reason):
    with pytest.raises(NluYamlError) as err:
        parse_nlu_yaml(text)
    assert err.value.line == line, str(err.value)
    assert reason in err.value.reason


def test_dump_quotes_odd_names_and_joins_lines():
    out = dump_nlu_yaml([Block("synonym", "a b", ("x\ny",))])
    assert '- synonym: "a b"' in out and "    - x y" in out
    assert parse_nlu_yaml(out)[0].examples == ("x y",)
