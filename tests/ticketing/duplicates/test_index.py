"""Duplicate detection on the labelled set: precision ≥ 0.9 at recall ≥ 0.8, and the hard negatives."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from ticketing.duplicates.index import DuplicateIndex, TicketText, pairs_above
from ticketing.duplicates.signatures import problems

DATA = Path(__file__).parent / "data" / "duplicates.yaml"


def labelled() -> list[tuple[str, str, str]]:
    """(matter key, channel, text) of every text of the set."""
    groups = yaml.safe_load(DATA.read_text(encoding="utf-8"))["groups"]
    return [(group["key"], item["channel"], item["text"]) for group in groups for item in group["texts"]]


@pytest.fixture(scope="module")
def docs():
    return labelled()


@pytest.fixture(scope="module")
def index(docs):
    return DuplicateIndex.build(TicketText(i, text) for i, (_, _, text) in enumerate(docs))


def test_the_set_holds_paraphrases_across_channels_and_the_hard_negatives(docs):
    keys = {key for key, _, _ in docs}
    assert len(keys) >= 15 and len(docs) >= 50
    for key in keys:
        assert len({channel for k, channel, _ in docs if k == key}) >= 2, key
    # Same site, other problem; same problem, other site.
    assert {"crossing_lights", "crossing_pothole", "guangming_lights", "jinxiu_water", "jinxiu_garbage",
            "dijing_water"} <= keys


def test_precision_is_at_least_0_9_at_recall_at_least_0_8(docs, index):
    truth = {(i, j) for i, j in itertools.combinations(range(len(docs)), 2) if docs[i][0] == docs[j][0]}
    found = pairs_above(index, list(range(len(docs))))
    true_positives = len(found & truth)
    precision = true_positives / len(found)
    recall = true_positives / len(truth)
    assert precision >= 0.9, (precision, recall)
    assert recall >= 0.8, (precision, recall)


def test_the_same_site_with_another_problem_is_another_matter(docs, index):
    lights = [i for i, (key, _, _) in enumerate(docs) if key == "crossing_lights"]
    pothole = {i for i, (key, _, _) in enumerate(docs) if key == "crossing_pothole"}
    for i in lights:
        assert not {n.ticket_id for n in index.neighbours(TicketText(i, ""))} & pothole


def test_known_different_regions_or_departments_are_never_one_matter():
    text = "湛河区锦绣花园小区停水三天了"
    index = DuplicateIndex.build([TicketText(1, text, region="zhanhe", department="utilities"),
                                  TicketText(2, text, region="weidong", department="utilities"),
                                  TicketText(3, text, region="zhanhe", department="housing_construction"),
                                  TicketText(4, text, region=None, department=None)])
    assert [n.ticket_id for n in index.neighbours(TicketText(1, ""))] == [4]


def test_a_ticket_newer_than_the_index_is_compared_on_the_fly(docs, index):
    found = index.neighbours(TicketText(10_000, "锦绣花园小区又停水了，三天没来水"))
    keys = {docs[n.ticket_id][0] for n in found}
    assert keys == {"jinxiu_water"}


def test_clusters_do_not_chain_two_sites_into_one(docs, index):
    for cluster in index.clusters():
        keys = [docs[i][0] for i in cluster]
        main = max(set(keys), key=keys.count)
        # One stray member at most; never two sites' matters fused half and half.
        assert keys.count(main) >= len(keys) - 1, keys


def test_problem_kinds_come_from_synonyms():
    assert problems("交通信号灯不亮") == problems("红绿灯坏了") == {"traffic_lights"}
    assert problems("小区断水") == {"water_supply"}
    assert problems("天气不错") == frozenset()
