"""The letter-aware intent classifier (nlu/rasa_intent.py): inside Rasa's own environment, and through
the session's real Rasa server."""

from __future__ import annotations

import aiohttp

from tests.nlu.conftest import needs_rasa_python, run_in_rasa

# Trains the component on a slice of the real training data inside .venv-rasa and compares the fast
# prediction path with scikit-learn's vectorizers and SciPy's product (what training used).
IN_RASA = r"""
import json, sys, tempfile
from pathlib import Path
import numpy as np, yaml
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from nlu.rasa_intent import LetterAwareIntentClassifier, message_words
from nlu.text_features import softmax

keep = {"dept_urban_management", "dept_education", "dept_utilities", "letter_frame"}
data = yaml.safe_load(Path("nlu/data/nlu/letters.yml").read_text(encoding="utf-8"))
# The composed letters only: the letters written freehand (nlu/letters/written/) wrap their matters in wordings
# `letter_frame` does not carry, and in a slice of three departments they outweigh it (the whole model reads the
# wrapping sentences of LETTER as it did before them).
from nlu.letters.compose import written_letters
written = {letter["text"] for letter in written_letters()}
messages = [Message(data={"text": line.strip()[2:], "intent": block["intent"]})
            for block in data["nlu"] if block["intent"] in keep
            for line in block["examples"].splitlines() if line.strip().startswith("- ")
            and line.strip()[2:] not in written]
storage = LocalModelStorage(Path(tempfile.mkdtemp()))
tokenizer = JiebaTokenizer(JiebaTokenizer.get_default_config(), storage, Resource("tokens"))
training_data = TrainingData(messages)
tokenizer.process_training_data(training_data)
classifier = LetterAwareIntentClassifier({}, storage, Resource("intent"))
classifier.train(training_data)
texts = json.loads(sys.argv[1])
tests = [Message(data={"text": t}) for t in texts]
tokenizer.process(tests)
diff = 0.0
for m in tests:
    words = message_words(m)
    reference = softmax(np.asarray(classifier._features.matrix([m.get("text")], [words]).dot(classifier._coef.T))
                         + classifier._intercept)
    diff = max(diff, float(np.abs(reference - classifier._predict([m.get("text")], [words])).max()))
classifier.process(tests)
# The first text again with its marked aside read as the matter's equal (asides_are_frames off).
aside_share = []
for flag in (True, False):
    classifier._config["asides_are_frames"] = flag
    again = [Message(data={"text": texts[0]})]
    tokenizer.process(again)
    classifier.process(again)
    aside_share.append({r["name"]: r["confidence"] for r in again[0].get("intent_ranking")}["dept_urban_management"])
print(json.dumps({"diff": diff, "rankings": [[r["name"] for r in m.get("intent_ranking")] for m in tests],
                  "aside_share": aside_share}))
"""

LETTER = ("尊敬的领导：我叫赵志强，家住新华区光明路幸福里小区。我们小区这个冬天暖气一直不热，屋里只有十三四度。"
          "家里上有老下有小，老人常年吃药，孩子还在读书，经不起这样折腾。我们也找过相关单位，互相推诿，说不归他们管。"
          "另外，小区门口的路灯也坏了好久。恳请领导帮帮我们。此致 敬礼！")



@needs_rasa_python
def test_fast_prediction_equals_the_trained_regression_and_never_predicts_the_frames():
    texts = [LETTER, "路灯坏了一个月没人修", "孩子上学的学区怎么划分", "您好！"]
    out = run_in_rasa(IN_RASA, texts)
    assert out["diff"] < 1e-9
    for ranking in out["rankings"]:
        assert "letter_frame" not in ranking and len(ranking) == 3
    # The aside (a street light) and the wrapping do not outvote the matter (the heating).
    assert out["rankings"][0][0] == "dept_utilities"
    assert out["rankings"][1][0] == "dept_urban_management"
    # The sentence marked as an aside (「另外，小区门口的路灯也坏了好久。」) counts as wrapping.
    with_asides_as_frames, without = out["aside_share"]
    assert with_asides_as_frames < without



# The same slice with the duty prior as config.yml sets it: the prior must score the matter's vector the
# classifier computed exactly as scikit-learn's vectorizers score the matter's text (the path before the prior
# shared the classifier's vector), and a short message's n-grams are counted once, not once per model.
IN_RASA_PRIOR = IN_RASA.split("texts = json.loads")[0].replace(
    'LetterAwareIntentClassifier({}, storage, Resource("intent"))',
    'LetterAwareIntentClassifier({"duty_weight": 0.6, "duty_examples": False, "duty_mode": "alternatives"}, '
    'storage, Resource("intent"))') + r"""
import nlu.text_features as text_features
from nlu.duty_prior import blend

texts = json.loads(sys.argv[1])
tests = [Message(data={"text": t}) for t in texts]
tokenizer.process(tests)
features, prior = classifier._features, classifier._prior
diff, prior_moved, matters = 0.0, 0.0, []
for m in tests:
    probs, matter = classifier._rank_parts(m)
    matrix = features.matrix([matter.text], [matter.words])
    reference = softmax(np.asarray(matrix.dot(prior.coef.T)) + prior.intercept)[0]
    expected = blend(probs, classifier._labels, reference, prior.labels, 0.6, "alternatives")
    diff = max(diff, float(np.abs(expected - classifier._rank(m)).max()))
    prior_moved = max(prior_moved, float(np.abs(expected - probs).max()))
    matters.append(matter.text)
counted = []
real = text_features.ngram_counts
text_features.ngram_counts = lambda *args: counted.append(1) or real(*args)
classifier._rank(tests[1])
print(json.dumps({"diff": diff, "prior_moved": prior_moved, "matters": matters, "counts": len(counted)}))
"""


@needs_rasa_python
def test_the_duty_prior_scores_the_classifiers_own_vector_of_the_matter():
    texts = [LETTER, "路灯坏了一个月没人修", "孩子上学的学区怎么划分", "暖气不热，屋里只有十几度"]
    out = run_in_rasa(IN_RASA_PRIOR, texts)
    assert out["diff"] < 1e-12
    assert out["prior_moved"] > 1e-3  # the prior is on: the check above compares something
    # The letter's matter is its sentences that are not wrapping, a short message's its whole text.
    assert out["matters"][0] != LETTER and "暖气" in out["matters"][0]
    assert out["matters"][1:] == texts[1:]
    assert out["counts"] == 2  # characters and words of the short message, once


async def test_a_letter_is_classified_by_its_matter_through_rasa(rasa_url):
    async with aiohttp.ClientSession() as session, session.post(f"{rasa_url}/model/parse", json={"text": LETTER}) as resp:
        body = await resp.json()
    names = [r["name"] for r in body["intent_ranking"]]
    assert "letter_frame" not in names
    assert body["intent"]["name"] == "dept_utilities"
