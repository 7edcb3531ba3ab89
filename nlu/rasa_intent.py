"""The intent classifier of the Rasa pipeline (loaded by Rasa from `nlu.rasa_intent`, Python 3.10).

Only Rasa, NumPy, SciPy and scikit-learn may be imported here: this module runs inside .venv-rasa,
never in the gateway (tests/deploy skips the `nlu.rasa_*` modules).

`LetterAwareIntentClassifier` replaces DIET, the TF-IDF featurizer and the logistic blend of
`nlu.rasa_components` (issues 15 and 16). Why, measured with bench/nlu_parse.py and offline
checks on the training data against the dev letters (nlu/dev/, never the held-out sets):

* DIET's TensorFlow inference was the largest part of a parse, and DIET only added to a logistic
  regression on the same features (30 % DIET / 70 % regression blend). A multinomial logistic
  regression over sublinear, L2-normalised TF-IDF of character 1–3-grams *and* jieba words is
  as good on short messages and better on letters, costs well under a millisecond and gives
  probabilities that are far less over-confident than DIET's softmax (the client's thresholds
  are meaningful).
* Letters: a 12345 letter wraps one matter in salutation, self-introduction, dates, what was
  tried, a second topic mentioned in passing and a closing. The training data carries these
  wrappings as the intent `letter_frame` (nlu/letters/compose.py writes them); the regression
  learns what a wrapping sentence looks like. A long message is then scored as half the text of
  its sentences that are not wrapping (frame probability < `frame_cutoff`) and half a vote of all
  its sentences, each weighted by how little it looks like wrapping and how sure it is.
  Dev letters: 67.6 % -> 83.8 % top-1, 85.3 % -> 94.1 % top-3 (whole-text regression without
  frames -> this). `letter_frame` never appears in the output ranking.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Text, Tuple

import numpy as np
from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from nlu.code_fingerprint import code_fingerprint
from nlu.duty_prior import DutyPrior, blend, read_duty_phrases
from nlu.linear_component import LinearTextComponent, message_words, text_words
from nlu.text_features import TextFeatures, Vector, softmax

logger = logging.getLogger(__name__)

NLU_DIR = Path(__file__).resolve().parent

_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?")
# A sentence that opens with one of these brings up a second, smaller matter (「此外，附近的学校门口早晚都很堵」):
# letter writers mark their asides so, and the letter is about its main matter. The frame classifier knows
# the asides of the training letters by their words, not by this mark.
_ASIDE = re.compile(r"^(另外|此外|顺便|顺带|附带|再多说一句|再说一句|再就是|除此之外|还有一件事|还有个事|还有一个小问题|还有，|题外话)")


class Matter(NamedTuple):
    """What a message is about: a letter's sentences that are not wrapping (else the whole text), its words and
    TF-IDF vector."""

    text: Text
    words: List[Text]
    vector: Vector


def letter_sentences(text: Text, min_chars: int) -> List[Tuple[int, int]]:
    """Character spans of the sentences of a letter (empty for a short message)."""
    if len(text) < min_chars:
        return []
    spans = []
    for match in _SENTENCE.finditer(text):
        start, end = match.span()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end - start >= 4:
            spans.append((start, end))
    return spans if len(spans) >= 2 else []


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LetterAwareIntentClassifier(LinearTextComponent):
    """Logistic regression over character and word TF-IDF, scoring long letters by their matter."""

    VOCAB_FILE = "letter_intent_vocabulary.json"
    MODEL_FILE = "letter_intent_model.npz"
    PRIOR_FILE = "letter_intent_duty_prior.npz"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "char_min_ngram": 1,
            "char_max_ngram": 3,
            # Character n-grams seen in one message only are mostly names and numbers.
            "char_min_df": 2,
            "C": 50.0,
            "max_iter": 3000,
            # "balanced": intents weighted by the inverse of their number of examples (the departments
            # have hundreds of letters, greet or weather a few dozen short questions).
            "class_weight": None,
            # The intent of letter wrappings (salutations, closings, asides): used to find the matter,
            # never predicted.
            "frame_intent": "letter_frame",
            "frame_cutoff": 0.5,
            # A message of at least this many characters and two sentences is read as a letter.
            "letter_min_chars": 60,
            # Share of the non-wrapping sentences' text in a letter's ranking; the rest is the vote.
            "matter_weight": 0.5,
            # Sentences marked as asides (_ASIDE) count as wrapping: they neither vote nor form the matter.
            "asides_are_frames": True,
            # The departments' duty phrases (relative to nlu/; written by nlu/letters/compose.py): a department
            # prior (nlu/duty_prior.py) mixed into the departments' probabilities with `duty_weight`, which
            # never changes whether the best intent is a department. 0: no prior.
            "duty_phrases": "data/duty_phrases.tsv",
            "duty_weight": 0.0,
            "duty_C": 50.0,
            # Sample weight of one duty phrase in the prior's training (a department example weighs 1).
            "duty_phrase_weight": 1.0,
            # Whether the departments' training examples train the prior too (else the duty phrases alone).
            "duty_examples": True,
            # "mix": every department's probability mixed; "alternatives": the best department keeps its place and
            # probability, the prior only reorders the others.
            "duty_mode": "mix",
        }

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 state: Optional[Dict[Text, Any]] = None) -> None:
        super().__init__(config, model_storage, resource, state)
        self._prior: Optional[DutyPrior] = (state or {}).get("prior")

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """Rasa's cache retrains the component when its code or the duty phrases change (a file Rasa ignores)."""
        merged = {**cls.get_default_config(), **config}
        return code_fingerprint([cls.__module__], NLU_DIR / merged["duty_phrases"])

    def _predict(self, texts: List[Text], words: List[List[Text]]) -> np.ndarray:
        return self._predict_vectors(self._vectors(texts, words))

    def _vectors(self, texts: List[Text], words: List[List[Text]]) -> List[Vector]:
        assert self._features is not None
        return [self._features.vector(t, w) for t, w in zip(texts, words)]

    def _predict_vectors(self, vectors: List[Vector]) -> np.ndarray:
        return softmax(np.vstack([v.scores(self._coef_t, self._intercept) for v in vectors]))

    # ------------------------------------------------------------------ training

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        examples = [m for m in training_data.intent_examples if m.get(TEXT) and m.get(INTENT)]
        if not examples:
            logger.warning("LetterAwareIntentClassifier: no intent examples; no intent will be predicted")
            return self._resource
        texts = [m.get(TEXT) for m in examples]
        words = [message_words(m) for m in examples]
        self._features = TextFeatures.fit(texts, words, self._char_range(), int(self._config["char_min_df"]))
        model = LogisticRegression(C=self._config["C"], max_iter=self._config["max_iter"],
                                   class_weight=self._config["class_weight"])
        model.fit(self._features.matrix(texts, words), [m.get(INTENT) for m in examples])
        self._set_model(list(model.classes_), model.coef_, model.intercept_)
        logger.info("LetterAwareIntentClassifier: %d intents, %d character n-grams, %d words",
                    len(self._labels), *self._features.sizes)
        self._prior = self._train_prior(texts, words, [m.get(INTENT) for m in examples])
        self.persist()
        return self._resource

    def _train_prior(self, texts: List[Text], words: List[List[Text]], intents: List[Text]) -> Optional[DutyPrior]:
        if float(self._config["duty_weight"]) <= 0.0:
            return None
        phrases = read_duty_phrases(NLU_DIR / self._config["duty_phrases"])
        if not phrases:
            logger.warning("LetterAwareIntentClassifier: no duty phrases; no department prior")
            return None
        phrase_words = [text_words(p) for _, p in phrases]
        assert self._features is not None
        return DutyPrior.fit(self._features, texts, words, intents, phrases, phrase_words,
                             float(self._config["duty_C"]), float(self._config["duty_phrase_weight"]),
                             bool(self._config["duty_examples"]))

    def persist(self) -> None:
        super().persist()
        if self.trained and self._prior is not None:
            with self._model_storage.write_to(self._resource) as directory:
                np.savez(directory / self.PRIOR_FILE, coef=self._prior.coef, intercept=self._prior.intercept,
                         labels=np.asarray(self._prior.labels, dtype=str))

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LetterAwareIntentClassifier":
        component = super().load(config, model_storage, resource, execution_context, **kwargs)
        assert isinstance(component, LetterAwareIntentClassifier)
        try:
            with model_storage.read_from(resource) as directory:
                if (directory / cls.PRIOR_FILE).exists():
                    arrays = np.load(directory / cls.PRIOR_FILE, allow_pickle=False)
                    component._prior = DutyPrior([str(x) for x in arrays["labels"]], arrays["coef"], arrays["intercept"])
        except (ValueError, FileNotFoundError, KeyError):
            component._prior = None
        return component

    # ------------------------------------------------------------------ prediction

    def _rank(self, message: Message) -> np.ndarray:
        """The intents' probabilities, the departments' share mixed with the duty prior's (`duty_weight`)."""
        probs, matter = self._rank_parts(message)
        weight = float(self._config["duty_weight"])
        if self._prior is None or weight <= 0.0:
            return probs
        # The prior scores the matter's vector the classifier already computed: counting a letter's n-grams
        # again cost about 0.2 ms per parse.
        prior = self._prior.probabilities(matter.vector)
        return blend(probs, self._labels, prior, self._prior.labels, weight, str(self._config["duty_mode"]))

    def _rank_parts(self, message: Message) -> Tuple[np.ndarray, Matter]:
        """The classifier's probabilities, and the text (with its words and features) that tells the matter: a
        letter's sentences that are not wrapping, else the whole message."""
        text = message.get(TEXT)
        spans = letter_sentences(text, int(self._config["letter_min_chars"]))
        texts = [text] + [text[a:b] for a, b in spans]
        words = [message_words(message)] + [message_words(message, span) for span in spans]
        vectors = self._vectors(texts, words)
        probs = self._predict_vectors(vectors)
        whole_matter = Matter(text, words[0], vectors[0])
        frame = self._labels.index(self._config["frame_intent"]) if self._config["frame_intent"] in self._labels else None
        if frame is None:
            return probs[0], whole_matter
        whole = probs[0].copy()
        whole[frame] = 0.0
        if not spans:
            return whole / whole.sum(), whole_matter
        sentences = probs[1:]
        framing = sentences[:, frame].copy()
        if self._config["asides_are_frames"]:
            for i, (start, end) in enumerate(spans):
                if _ASIDE.match(text[start:end]):
                    framing[i] = max(framing[i], 1.0)
        # Wrapping sentences get almost no say; among the rest, the surer a sentence the more it counts.
        weights = (1.0 - framing) ** 2 * sentences.max(axis=1)
        topical = sentences.copy()
        topical[:, frame] = 0.0
        topical /= topical.sum(axis=1, keepdims=True)
        vote = (topical * weights[:, None]).sum(axis=0)
        vote /= vote.sum()
        kept = [i for i, f in enumerate(framing) if f < float(self._config["frame_cutoff"])]
        if kept:
            matter_text = "".join(texts[1 + i] for i in kept)
            matter_words = [w for i in kept for w in words[1 + i]]
            found = Matter(matter_text, matter_words, self._vectors([matter_text], [matter_words])[0])
            matter = self._predict_vectors([found.vector])[0]
            matter[frame] = 0.0
            matter /= matter.sum()
        else:
            matter = whole / whole.sum()
            found = whole_matter
        share = float(self._config["matter_weight"])
        return share * matter + (1.0 - share) * vote, found

    def process(self, messages: List[Message]) -> List[Message]:
        if not self.trained:
            return messages
        frame = self._config["frame_intent"]
        for message in messages:
            if not message.get(TEXT):
                continue
            probs = self._rank(message)
            ranking = [{INTENT_NAME_KEY: label, PREDICTED_CONFIDENCE_KEY: float(p)}
                       for label, p in zip(self._labels, probs) if label != frame]
            ranking.sort(key=lambda r: r[PREDICTED_CONFIDENCE_KEY], reverse=True)
            message.set(INTENT, ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages
