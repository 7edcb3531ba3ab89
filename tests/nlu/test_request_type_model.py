"""The request-type classifier (nlu/request_type_model.py) inside Rasa's own environment: the fast
prediction path gives scikit-learn's numbers, trained and after a save and load."""

from __future__ import annotations

from tests.nlu.conftest import needs_rasa_python, run_in_rasa

IN_RASA = r"""
import json, sys, tempfile
from pathlib import Path
import numpy as np, yaml
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from nlu.request_type_model import RequestTypeClassifier

data = yaml.safe_load(Path("nlu/data/nlu/departments.yml").read_text(encoding="utf-8"))
messages = [Message.build(text=line.strip()[2:], intent=block["intent"])
            for block in data["nlu"] for line in block["examples"].splitlines() if line.strip().startswith("- ")]
storage = LocalModelStorage(Path(tempfile.mkdtemp()))
resource = Resource("request_type")
trained = RequestTypeClassifier({}, storage, resource)
trained.train(TrainingData(messages))
loaded = RequestTypeClassifier.load({}, storage, resource, None)
texts = json.loads(sys.argv[1])
diff = 0.0
for model in (trained, loaded):
    for text in texts:
        reference = np.asarray(model._features([text]).dot(model._coef.T)).ravel() + model._intercept
        diff = max(diff, float(np.abs(reference - model._scores(text)).max()))
tests = [Message(data={"text": t}) for t in texts]
loaded.process(tests)
# A model saved before the last three rule features (implied suggestion, praise; short complaints' cues)
# were appended: its coefficients know only the first ones, and it must score as it did.
old = RequestTypeClassifier.load({}, storage, resource, None)
old._coef = old._coef[:, :-3]
old._prepare()
old_diff = 0.0
for text in texts:
    full = np.asarray(old._features([text]).dot(np.hstack([old._coef, np.zeros((old._coef.shape[0], 3))]).T)).ravel()
    old_diff = max(old_diff, float(np.abs(full + old._intercept - old._scores(text)).max()))
# A model without the word block (word_weight 0, as every model saved before session 13) loads under today's
# default config and scores with its characters and rules alone.
chars_only = RequestTypeClassifier({"word_weight": 0.0}, storage, Resource("chars_only"))
chars_only.train(TrainingData(messages))
reloaded = RequestTypeClassifier.load({}, storage, Resource("chars_only"), None)
chars_diff = 0.0
for text in texts:
    reference = np.asarray(chars_only._features([text]).dot(chars_only._coef.T)).ravel() + chars_only._intercept
    chars_diff = max(chars_diff, float(np.abs(reference - reloaded._scores(text)).max()))
# Trained with other parse settings than today's defaults: loaded (with the defaults, as Rasa loads a model
# under the config.yml it was trained with), it scores as it was trained.
other = RequestTypeClassifier({"word_weight": 0.3, "letter_bias": {"report": 0.9}}, storage, Resource("other"))
other.train(TrainingData(messages))
other_loaded = RequestTypeClassifier.load({}, storage, Resource("other"), None)
other_diff = 0.0
for text in texts:
    other_diff = max(other_diff, float(np.abs(other._scores(text) - other_loaded._scores(text)).max()))
other_bias = other_loaded._config["letter_bias"]
# Saved before the parse settings were stored: word weight 0.5, the only one such models were trained with.
(storage._storage_path / "other" / "request_type_parse.json").unlink(missing_ok=True)
before_config = RequestTypeClassifier.load({}, storage, Resource("other"), None)._config
before_file = before_config["word_weight"]
rule_weights = {"today": loaded._config["short_rule_weight"], "before_file": before_config["short_rule_weight"]}
letter = "我们村有人" + "，" .join(["夜里偷偷往河里排污水"] * 8) + "。请依法查处。"
bias = {"letter": dict(zip(loaded._labels, loaded.letter_bias(letter).tolist())),
        "short": dict(zip(loaded._labels, loaded.letter_bias(texts[0]).tolist()))}
has_words = [model._words is not None for model in (trained, loaded, reloaded)]
print(json.dumps({"diff": diff, "old_diff": old_diff, "chars_diff": chars_diff, "has_words": has_words,
                  "other_diff": other_diff, "other_bias": other_bias, "before_file": before_file, "rule_weights": rule_weights,
                  "types": [m.get("request_type")["name"] for m in tests], "bias": bias}))
"""



@needs_rasa_python
def test_fast_prediction_equals_the_trained_regression():
    texts = ["我要投诉小区物业乱收费，多次反映没人管", "请问办理居住证需要什么材料？", "举报有人在河道里偷偷排污水",
             "感谢环卫工人，街道打扫得非常干净", "  建议在学校门口   增设红绿灯 ", "路灯"]
    out = run_in_rasa(IN_RASA, texts)
    assert out["diff"] < 1e-5  # the coefficients are stored as float32
    assert out["old_diff"] < 1e-5
    assert out["chars_diff"] < 1e-5 and out["has_words"] == [True, True, False]
    # Parse settings travel with the model, not with today's code defaults.
    assert out["other_diff"] < 1e-5 and out["other_bias"] == {"report": 0.9}
    assert out["before_file"] == 0.5
    # Short messages' rule features at 0.3 (session 16); a model saved before the setting existed reads them at 1.
    assert out["rule_weights"] == {"today": 0.3, "before_file": 1.0}
    assert out["types"][:4] == ["complaint", "consult", "report", "praise"]
    # Letters get the report's and the consult's calibration bias (config `letter_bias`); short messages none.
    assert out["bias"]["letter"]["report"] == 0.5 and out["bias"]["letter"]["consult"] == 0.6
    assert sum(out["bias"]["letter"].values()) == 1.1
    assert not any(out["bias"]["short"].values())


def test_labelled_messages_are_never_dev_or_heldout_texts():
    # data/request_types.tsv trains the classifier: none of its texts may be an evaluated message (the dev
    # split's, which would flatter `eval --dev`, or a held-out one).
    from pathlib import Path

    import yaml

    from nlu import evaluate

    tsv = Path(evaluate.__file__).parent / "data" / "request_types.tsv"
    labelled = {line.partition("\t")[2].strip() for line in tsv.read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")}
    for path in [*evaluate.heldout_files(), *sorted(evaluate.DEV_DIR.glob("*.yml"))]:
        texts = {str(e["text"]).strip() for e in yaml.safe_load(path.read_text(encoding="utf-8"))["examples"]}
        assert not labelled & texts, (path.name, sorted(labelled & texts)[:3])


CORRECTIONS_IN_RASA = r"""
import json, os, sys, tempfile
from pathlib import Path
import yaml
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from nlu.request_type_model import RequestTypeClassifier, with_corrections

arg = json.loads(sys.argv[1])
data = yaml.safe_load(Path("nlu/data/nlu/departments.yml").read_text(encoding="utf-8"))
messages = [Message.build(text=line.strip()[2:], intent=block["intent"])
            for block in data["nlu"] for line in block["examples"].splitlines() if line.strip().startswith("- ")]
storage = LocalModelStorage(Path(tempfile.mkdtemp()))

def trained(name):
    model = RequestTypeClassifier({}, storage, Resource(name))
    model.train(TrainingData(messages))
    probe = Message(data={"text": arg["text"]})
    model.process([probe])
    return {r["name"]: r["confidence"] for r in probe.get("request_type")["ranking"]}

default_path = RequestTypeClassifier.get_default_config()["corrections"]
before, fingerprint_before = trained("before"), RequestTypeClassifier.fingerprint_addon({})
# The admins' training project: Rasa runs in it, and the corrections lie where the config says.
project = Path(tempfile.mkdtemp())
(project / default_path).parent.mkdir(parents=True)
(project / default_path).write_text("# header\n" + arg["type"] + "\t" + arg["text"] + "\nnot_a_type\t坏的一行\n",
                                    encoding="utf-8")
os.chdir(project)
after, fingerprint_after = trained("after"), RequestTypeClassifier.fingerprint_addon({})
merged = with_corrections([("甲", "complaint"), ("乙", "consult")], [("甲", "report"), ("丙", "help"), ("甲", "praise")])
print(json.dumps({"default_path": default_path, "before": before, "after": after,
                  "fingerprint_changed": fingerprint_before != fingerprint_after, "merged": merged}))
"""


@needs_rasa_python
def test_accepted_corrections_in_the_training_project_are_labels_of_the_model():
    # An operator corrected a praise the model read otherwise; an admin accepted it, and the admins' training
    # writes it where the component reads it (gateway/web/admin/workspace.py CORRECTIONS_FILE).
    text, kind = "社区卫生服务站的王医生半夜还上门给我家老人输液", "praise"
    out = run_in_rasa(CORRECTIONS_IN_RASA, {"text": text, "type": kind})
    assert out["default_path"] == "nlu/data/request_types_corrections.tsv"
    assert out["after"][kind] > out["before"][kind] + 0.05, (out["before"], out["after"])
    assert out["fingerprint_changed"]  # Rasa's cache retrains the component when the corrections change
    # A correction overrides a label of the same text (the last one wins); a new text is added once.
    assert out["merged"] == [["甲", "praise"], ["乙", "consult"], ["丙", "help"]]
