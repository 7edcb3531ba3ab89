"""The FAQ selector (nlu/faq_selector.py): inside Rasa's own environment, and through the session's
real Rasa server."""

from __future__ import annotations

import aiohttp

from tests.nlu.conftest import needs_rasa_python, run_in_rasa

# Trains the component on the real FAQ questions inside .venv-rasa, checks the fast prediction path
# against scikit-learn's SVM (what training fitted), and that a persisted model loads and answers alike.
IN_RASA = r"""
import json, sys, tempfile
from pathlib import Path
import numpy as np, yaml
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.svm import LinearSVC
from nlu.faq_selector import FaqSelector
from nlu.rasa_intent import message_words

data = yaml.safe_load(Path("nlu/data/nlu/faq.yml").read_text(encoding="utf-8"))
messages = [Message.build(text=line.strip()[2:], intent=block["intent"])
            for block in data["nlu"] for line in block["examples"].splitlines() if line.strip().startswith("- ")]
# A ticket among the training messages: not the retrieval intent, so not an answer.
messages.append(Message.build(text="小区门口的路灯坏了", intent="dept_urban_management"))
storage = LocalModelStorage(Path(tempfile.mkdtemp()))
tokenizer = JiebaTokenizer(JiebaTokenizer.get_default_config(), storage, Resource("tokens"))
training_data = TrainingData(messages)
tokenizer.process_training_data(training_data)
resource = Resource("faq")
selector = FaqSelector({}, storage, resource)
selector.train(training_data)
examples = [m for m in training_data.intent_examples if m.get("intent") == "faq"]
reference = LinearSVC(C=1.0, random_state=0).fit(selector._features.matrix([m.get("text") for m in examples],
                                                           [message_words(m) for m in examples]),
                                 [m.get("intent_response_key") for m in examples])
texts = json.loads(sys.argv[1])
tests = [Message(data={"text": t}) for t in texts]
tokenizer.process(tests)
diff = 0.0
for m in tests:
    words = message_words(m)
    margins = reference.decision_function(selector._features.matrix([m.get("text")], [words]))[0]
    diff = max(diff, float(np.abs(margins - selector._features.scores(m.get("text"), words, selector._coef_t,
                                                                      selector._intercept)).max()))
selector.process(tests)
loaded = FaqSelector.load({}, storage, resource, None)
again = [Message(data={"text": t}) for t in texts]
tokenizer.process(again)
loaded.process(again)
print(json.dumps({"diff": diff, "keys": list(selector._labels),
                  "selected": [m.get("response_selector") for m in tests],
                  "reloaded": [m.get("response_selector") for m in again]}, ensure_ascii=False))
"""



@needs_rasa_python
def test_fast_prediction_equals_the_trained_svm_and_a_saved_model_answers_alike():
    texts = ["12345晚上几点下班", "自来水停水了打哪个电话", "我想查一下我反映的问题办得怎么样了"]
    out = run_in_rasa(IN_RASA, texts)
    assert out["diff"] < 1e-9
    assert all(key.startswith("faq/") for key in out["keys"]) and len(out["keys"]) == 11  # the ticket is no answer
    chosen = [s["faq"]["response"]["intent_response_key"] for s in out["selected"]]
    assert chosen == ["faq/service_hours", "faq/utilities_hotlines", "faq/follow_ticket"]
    for selected in out["selected"]:
        assert selected["all_retrieval_intents"] == ["faq"]
        ranking = selected["faq"]["ranking"]
        assert len(ranking) == 11 and abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6
        assert ranking[0]["intent_response_key"] == selected["faq"]["response"]["intent_response_key"]
        assert ranking[0]["confidence"] == selected["faq"]["response"]["confidence"] > ranking[1]["confidence"]
    assert out["reloaded"] == out["selected"]


async def test_a_question_gets_its_answer_key_through_rasa(rasa_url):
    async with aiohttp.ClientSession() as session, session.post(
            f"{rasa_url}/model/parse", json={"text": "市长信箱的邮箱地址是多少"}) as resp:
        body = await resp.json()
    assert body["intent"]["name"] == "faq"
    assert body["response_selector"]["faq"]["response"]["intent_response_key"] == "faq/mayor_mailbox"
