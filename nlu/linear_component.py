"""The base of the pipeline's linear text components (Rasa side, Python 3.10): the intent classifier
(nlu/rasa_intent.py) and the FAQ selector (nlu/faq_selector.py).

Both score a message as `TextFeatures · coef + intercept` over character n-grams and the tokenizer's
words (nlu/text_features.py), and persist the same way: the vocabularies and idf as JSON, the
coefficients as an .npz (plain arrays, no pickle), in the files the subclass names.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

import numpy as np
import rasa.shared.utils.io
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from nlu.code_fingerprint import code_fingerprint
from nlu.rasa_tokenizer import load_user_dictionaries
from nlu.text_features import TextFeatures

logger = logging.getLogger(__name__)


JIEBA_DICT = Path(__file__).resolve().parent / "jieba_dict" / "userdict.txt"


def text_words(text: Text) -> List[Text]:
    """A text's words as the pipeline's JiebaTokenizer cuts them (with nlu/jieba_dict), lower-cased: for texts
    that are not Rasa messages (labelled messages, duty phrases) and for a parse without tokens."""
    import jieba

    # Once per process, shared with the pipeline's tokenizer: a second load would change the cuts.
    load_user_dictionaries(JIEBA_DICT)
    return [w.lower() for w in jieba.lcut(text) if w.strip()]


def message_words(message: Message, span: Optional[Tuple[int, int]] = None) -> List[Text]:
    """The tokenizer's words of a message (lower-cased), or of the characters `span` of it."""
    tokens = message.get(TOKENS_NAMES[TEXT]) or []
    if span is None:
        return [t.text.lower() for t in tokens if t.text.strip()]
    start, end = span
    return [t.text.lower() for t in tokens if start <= t.start < end and t.text.strip()]


class LinearTextComponent(GraphComponent):
    """A trained linear model over `TextFeatures`: labels, coefficients, persistence."""

    VOCAB_FILE = "linear_vocabulary.json"
    MODEL_FILE = "linear_model.npz"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"char_min_ngram": 1, "char_max_ngram": 3}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 state: Optional[Dict[Text, Any]] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._features: Optional[TextFeatures] = None
        self._labels: List[Text] = []
        self._coef: Optional[np.ndarray] = None
        self._intercept: Optional[np.ndarray] = None
        if state:
            self._features = TextFeatures.from_state(state, self._char_range())
            self._set_model(list(state["labels"]), state["coef"], state["intercept"])

    def _char_range(self) -> Tuple[int, int]:
        return (int(self._config["char_min_ngram"]), int(self._config["char_max_ngram"]))

    def _set_model(self, labels: List[Text], coef: np.ndarray, intercept: np.ndarray) -> None:
        """`coef`: classes × features, as scikit-learn fits it."""
        self._labels = [str(label) for label in labels]
        self._coef, self._intercept = np.asarray(coef), np.asarray(intercept)
        self._coef_t = np.ascontiguousarray(self._coef.T)

    @property
    def trained(self) -> bool:
        return self._features is not None and self._coef is not None

    def _scores(self, text: Text, words: List[Text]) -> np.ndarray:
        assert self._features is not None
        return self._features.scores(text, words, self._coef_t, self._intercept)

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Rasa's cache retrains the component when its code changes, not only its config or data."""
        return code_fingerprint([cls.__module__])

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LinearTextComponent":
        return cls(config, model_storage, resource)

    def persist(self) -> None:
        if not self.trained:
            return
        assert self._features is not None
        with self._model_storage.write_to(self._resource) as directory:
            rasa.shared.utils.io.dump_obj_as_json_to_file(directory / self.VOCAB_FILE, self._features.state())
            np.savez(directory / self.MODEL_FILE, coef=self._coef, intercept=self._intercept,
                     labels=np.asarray(self._labels, dtype=str))

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LinearTextComponent":
        try:
            with model_storage.read_from(resource) as directory:
                state = rasa.shared.utils.io.read_json_file(directory / cls.VOCAB_FILE)
                arrays = np.load(directory / cls.MODEL_FILE, allow_pickle=False)
                state.update(coef=arrays["coef"], intercept=arrays["intercept"],
                             labels=[str(x) for x in arrays["labels"]])
                return cls(config, model_storage, resource, state)
        except (ValueError, FileNotFoundError, KeyError):
            logger.warning("%s: not trained; it will predict nothing", cls.__name__)
            return cls(config, model_storage, resource)
