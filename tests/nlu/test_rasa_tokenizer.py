"""The pipeline's tokenizer cuts a text the same however often Rasa creates or loads it in one process
(nlu/rasa_tokenizer.py): a model must not depend on Rasa's cache, nor a server's cuts on a model swap."""

from __future__ import annotations

from tests.nlu.conftest import needs_rasa_python, run_in_rasa

IN_RASA = r"""
import importlib, json, sys, tempfile
from pathlib import Path
import yaml
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message

item = yaml.safe_load(Path("nlu/config.yml").read_text(encoding="utf-8"))["pipeline"][0]
module, _, name = item["name"].rpartition(".")
tokenizer_class = getattr(importlib.import_module(module or "rasa.nlu.tokenizers.jieba_tokenizer"), name)
config = {**tokenizer_class.get_default_config(), **{k: v for k, v in item.items() if k != "name"}}
storage = LocalModelStorage(Path(tempfile.mkdtemp()))
context = ExecutionContext(GraphSchema({}), "tokenizer-test")
texts = json.loads(sys.argv[1])

def cuts(tokenizer):
    return [[t.text for t in tokenizer.tokenize(Message(data={"text": text}), "text")] for text in texts]

first = cuts(tokenizer_class.create(config, storage, Resource("train"), context))
# Training creates it again in another node, the request-type model cuts its labelled messages with
# text_words, and a server loads the component with each model it is given (PUT /model).
again = tokenizer_class.create(config, storage, Resource("process"), context)
from nlu.linear_component import text_words
words = [text_words(text) for text in texts]
second = cuts(again)
print(json.dumps({"first": first, "second": second, "words": words}, ensure_ascii=False))
"""


@needs_rasa_python
def test_a_second_tokenizer_in_the_same_process_cuts_as_the_first():
    texts = ["卫东区矿工路附近有一户在一楼院子里违建两层小楼，已经盖到顶了，城管赶紧来看看",
             "高新区一家企业的环保设施从来没开过，只有检查的时候才开", "某培训机构收了补贴款却从来没开过课",
             "老板每天让加班到晚上十点，周末也不休息，从来没给过加班费"]
    out = run_in_rasa(IN_RASA, texts)
    assert out["second"] == out["first"]
    # The request-type model's words of a labelled message are the tokenizer's words of the same text.
    assert out["words"] == [[w.lower() for w in cut if w.strip()] for cut in out["first"]]
