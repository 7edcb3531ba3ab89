"""The ``gathering`` section of the directory (issue #19) is validated like the rest of it."""

from __future__ import annotations

import pytest

from config.directory import DirectoryError, load_directory
from tests.config.test_directory import _write


def test_the_default_rules_ask_nothing_of_a_consultation_and_a_place_of_a_street_light():
    gathering = load_directory().gathering
    assert gathering.slots_for("consult", "urban_management") == ()
    assert "location" in gathering.slots_for("complaint", "urban_management")
    assert gathering.answer_within_minutes == 10 and gathering.max_questions == 2


@pytest.mark.parametrize(("change", "message"), [
    (lambda g: g["rules"].append({"departments": ["street_lights"], "slots": ["location"]}),
     "unknown department 'street_lights'"),
    (lambda g: g["rules"].append({"request_types": ["complain"], "slots": []}), "unknown request type 'complain'"),
    (lambda g: g["rules"].append({"slots": ["address"]}), r"gathering\.rules\.\d+\.slots"),
    (lambda g: g.update({"asking_channels": ["web", "telegram"], "contact_known_channels": []}),
     "unknown channel 'telegram'"),
    (lambda g: g.update({"contact_known_channels": ["email"]}), "not asking channels"),
    (lambda g: g.update({"answer_within_minutes": 0}), "answer_within_minutes"),
    (lambda g: g.update({"max_questions": 9}), "max_questions"),
])
def test_a_bad_gathering_section_is_refused_with_its_reason(tmp_path, change, message):
    path = _write(tmp_path, lambda d: change(d["gathering"]))
    with pytest.raises(DirectoryError, match=message):
        load_directory(path)
