"""Custom Rasa components (loaded by the Rasa server from `nlu.rasa_components`, Python 3.10).

Only Rasa, TensorFlow, NumPy, SciPy and scikit-learn may be imported here: this module runs inside .venv-rasa,
never in the gateway.

TfidfCharFeaturizer — why it exists (measured on the held-out sets, see nlu/README.md):
Rasa's CountVectorsFeaturizer gives raw counts. Our messages range from 「停水了」 to 300-character
mayor's-mailbox letters, so raw counts make long letters dominate the first dense layer of DIET; the
classifier then reached only 83 % department top-1. The same classifier shape (two dense layers)
on L2-normalised, sublinear TF-IDF character 1–3-grams of the whole message reached 91 % in an
offline check, and so did DIET once fed these features. Character n-grams over the raw text also
need no word segmentation, which helps with typos, dialect words and traditional characters.
The CountVectorsFeaturizers stay in the pipeline for the ResponseSelector (short FAQ questions,
where counts did as well).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

import numpy as np
import rasa.shared.utils.io
import scipy.sparse
import tensorflow as tf
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.utils import train_utils
from sklearn.feature_extraction.text import CountVectorizer

logger = logging.getLogger(__name__)

VOCAB_FILE = "tfidf_vocabulary.json"
# The TF-IDF rows of the sentences of a long message (a letter), for LogisticIntentEnsemble's vote.
SENTENCE_FEATURES = "tfidf_sentence_rows"
LETTER_MIN_CHARS = 60
_SENTENCE = re.compile(r"[^。！？!?；;\n]+[。！？!?；;]?")


def _letter_sentences(text: Text) -> List[Text]:
    """The sentences of a letter (empty for a short message)."""
    if len(text) < LETTER_MIN_CHARS:
        return []
    parts = [p.strip() for p in _SENTENCE.findall(text) if len(p.strip()) >= 4]
    return parts if len(parts) >= 2 else []


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class TfidfCharFeaturizer(SparseFeaturizer, GraphComponent):
    """Sublinear, L2-normalised TF-IDF of character n-grams of the message text.

    Sentence features: the whole message. Sequence features: each token on its own (same vocabulary),
    so the component also works with classifiers that read sequences.
    """

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **SparseFeaturizer.get_default_config(),
            "min_ngram": 1,
            "max_ngram": 3,
            "min_df": 1,
            "max_features": None,
            # Length of every feature vector. L2-normalised vectors of ~60 n-grams have entries of
            # ~0.1; at that scale DIET (L2 weight regularisation, default learning rate) learned
            # too slowly: 73 % training accuracy after 60 epochs. 10 is roughly the norm of raw
            # counts of a short message, so the scale is familiar while length no longer matters.
            "scale": 10.0,
        }

    @classmethod
    def validate_config(cls, config: Dict[Text, Any]) -> None:
        if not 1 <= config["min_ngram"] <= config["max_ngram"]:
            raise ValueError("TfidfCharFeaturizer: need 1 <= min_ngram <= max_ngram")

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: Optional[Dict[Text, int]] = None,
        idf: Optional[List[float]] = None,
    ) -> None:
        SparseFeaturizer.__init__(self, resource.name, config)
        self._model_storage = model_storage
        self._resource = resource
        self._vocabulary = vocabulary
        self._idf = np.asarray(idf, dtype=np.float32) if idf is not None else None
        self._vectorizer = self._make_vectorizer(vocabulary) if vocabulary else None

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TfidfCharFeaturizer":
        return cls(config, model_storage, resource)

    def _make_vectorizer(self, vocabulary: Optional[Dict[Text, int]] = None) -> CountVectorizer:
        return CountVectorizer(
            analyzer="char",
            ngram_range=(self._config["min_ngram"], self._config["max_ngram"]),
            lowercase=True,
            min_df=self._config["min_df"],
            max_features=self._config["max_features"],
            vocabulary=vocabulary,
            dtype=np.float32,
        )

    # ------------------------------------------------------------------ training

    def train(self, training_data: TrainingData) -> Resource:
        texts = [m.get(TEXT) for m in training_data.training_examples if m.get(TEXT)]
        vectorizer = self._make_vectorizer()
        counts = vectorizer.fit_transform(texts)
        # Smooth idf as scikit-learn's TfidfTransformer does: log((1 + n) / (1 + df)) + 1.
        df = np.bincount(counts.indices, minlength=counts.shape[1])
        n = counts.shape[0]
        self._idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
        self._vocabulary = {k: int(v) for k, v in vectorizer.vocabulary_.items()}
        self._vectorizer = self._make_vectorizer(self._vocabulary)
        logger.info("TfidfCharFeaturizer: %d character n-grams from %d messages", len(self._vocabulary), n)
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            rasa.shared.utils.io.dump_obj_as_json_to_file(
                directory / VOCAB_FILE,
                {"vocabulary": self._vocabulary, "idf": [float(x) for x in self._idf]},
            )

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "TfidfCharFeaturizer":
        try:
            with model_storage.read_from(resource) as directory:
                data = rasa.shared.utils.io.read_json_file(directory / VOCAB_FILE)
                return cls(config, model_storage, resource, data["vocabulary"], data["idf"])
        except (ValueError, FileNotFoundError, KeyError):
            logger.warning("TfidfCharFeaturizer: no trained vocabulary found; no features will be added")
            return cls(config, model_storage, resource)

    # ------------------------------------------------------------------ featurizing

    def _tfidf(self, texts: List[Text]) -> scipy.sparse.csr_matrix:
        counts = self._vectorizer.transform(texts).tocsr()
        counts.data = 1.0 + np.log(counts.data)  # sublinear tf: a repeated word is not 10x as important
        weighted = counts.multiply(self._idf).tocsr()
        norms = np.sqrt(weighted.multiply(weighted).sum(axis=1)).A1
        norms[norms == 0] = 1.0
        scale = float(self._config["scale"])
        return scipy.sparse.diags(scale / norms).dot(weighted).tocsr().astype(np.float32)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        # No sentence rows here: they serve only the prediction (and Rasa caches training data).
        self._featurize(training_data.training_examples, with_sentences=False)
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        return self._featurize(messages, with_sentences=True)

    def _featurize(self, messages: List[Message], with_sentences: bool) -> List[Message]:
        if self._vectorizer is None:
            return messages
        for message in messages:
            text = message.get(TEXT)
            if not text:
                continue
            tokens = message.get(TOKENS_NAMES[TEXT]) or []
            sentence = self._tfidf([text]).tocoo()
            if tokens:
                sequence = self._tfidf([t.text for t in tokens]).tocoo()
            else:
                sequence = scipy.sparse.coo_matrix((0, len(self._vocabulary)), dtype=np.float32)
            self.add_features_to_message(sequence, sentence, TEXT, message)
            parts = _letter_sentences(text) if with_sentences else []
            if parts:
                message.set(SENTENCE_FEATURES, self._tfidf(parts))
        return messages


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class LogisticIntentEnsemble(GraphComponent):
    """Averages DIET's intent ranking with a logistic regression on the TF-IDF character features.

    Why: on the held-out sets DIET alone reached 83 % department top-1 whatever the features, while a
    multinomial logistic regression on the same TF-IDF character n-grams reached 92 % in an offline
    check (scikit-learn, same training data). DIET stays the model of the pipeline; this component,
    placed right after it, blends the two probability distributions
    (`diet_weight` * DIET + (1 - `diet_weight`) * logistic regression) and rewrites `intent` and
    `intent_ranking`. The regression's probabilities are also far less over-confident than DIET's
    softmax, which makes the client's thresholds meaningful. The FallbackClassifier after it sees
    the blended confidence.
    """

    MODEL_FILE = "logistic_intent.npz"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {"featurizers": [], "C": 50.0, "diet_weight": 0.3, "max_iter": 3000,
                "sentence_vote_weight": 0.5, "sentence_vote_power": 2.0}

    def __init__(self, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
                 labels: Optional[List[Text]] = None, coef: Optional[np.ndarray] = None,
                 intercept: Optional[np.ndarray] = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._labels = labels or []
        self._coef = coef
        self._intercept = intercept

    @classmethod
    def create(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> "LogisticIntentEnsemble":
        return cls(config, model_storage, resource)

    def _features(self, message: Message) -> Optional[scipy.sparse.csr_matrix]:
        _, sentence = message.get_sparse_features(TEXT, self._config["featurizers"])
        if sentence is None:
            return None
        return scipy.sparse.csr_matrix(sentence.features)

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.linear_model import LogisticRegression

        rows, labels = [], []
        for message in training_data.intent_examples:
            features = self._features(message)
            if features is not None and message.get("intent"):
                rows.append(features)
                labels.append(message.get("intent"))
        if not rows:
            logger.warning("LogisticIntentEnsemble: no featurised intent examples; DIET alone decides")
            return self._resource
        model = LogisticRegression(C=self._config["C"], max_iter=self._config["max_iter"])
        model.fit(scipy.sparse.vstack(rows).tocsr(), labels)
        self._labels = [str(x) for x in model.classes_]
        self._coef = model.coef_.astype(np.float32)
        self._intercept = model.intercept_.astype(np.float32)
        self.persist()
        return self._resource

    def persist(self) -> None:
        with self._model_storage.write_to(self._resource) as directory:
            np.savez(directory / self.MODEL_FILE, coef=self._coef, intercept=self._intercept,
                     labels=np.asarray(self._labels, dtype=str))

    @classmethod
    def load(cls, config: Dict[Text, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> "LogisticIntentEnsemble":
        try:
            with model_storage.read_from(resource) as directory:
                data = np.load(directory / cls.MODEL_FILE, allow_pickle=False)
                return cls(config, model_storage, resource, [str(x) for x in data["labels"]],
                           data["coef"], data["intercept"])
        except (ValueError, FileNotFoundError, KeyError):
            logger.warning("LogisticIntentEnsemble: not trained; DIET alone decides")
            return cls(config, model_storage, resource)

    def _probabilities(self, features: scipy.sparse.csr_matrix) -> np.ndarray:
        scores = np.asarray(features.dot(self._coef.T)).ravel() + self._intercept
        if len(self._labels) == 2:  # binary LogisticRegression keeps one row of coefficients
            p = 1.0 / (1.0 + np.exp(-scores[0]))
            return np.array([1.0 - p, p])
        scores = scores - scores.max()
        exp = np.exp(scores)
        return exp / exp.sum()

    def _with_sentence_vote(self, blended: Dict[Text, float], rows: scipy.sparse.csr_matrix) -> Dict[Text, float]:
        """Half the whole letter's ranking, half a vote of its sentences weighted by how sure each is.

        Why: a letter wraps its matter in salutation, self-introduction, dates, what was tried and
        often a second topic; on the whole text those words pull towards other departments (the
        matter alone: 84 % top-1 on the dev letters' matters; the letters: 63 %). Sentences that
        say nothing about a department give flat distributions and little weight (squared maximum
        probability); the matter's sentence decides. Dev letters (nlu/dev/): 63 % -> 68 % top-1,
        84 % -> 88 % top-3 with the regression alone; short messages are not touched.
        """
        sentences = np.vstack([self._probabilities(rows.getrow(i)) for i in range(rows.shape[0])])
        weights = sentences.max(axis=1) ** float(self._config["sentence_vote_power"])
        vote = (sentences * weights[:, None]).sum(axis=0)
        vote = vote / vote.sum() if vote.sum() > 0 else vote
        share = float(self._config["sentence_vote_weight"])
        out = {k: (1.0 - share) * v for k, v in blended.items()}
        for label, p in zip(self._labels, vote):
            out[label] = out.get(label, 0.0) + share * float(p)
        return out

    def process(self, messages: List[Message]) -> List[Message]:
        if self._coef is None:
            return messages
        w = float(self._config["diet_weight"])
        for message in messages:
            features = self._features(message)
            if features is None:
                continue
            blended = {label: (1.0 - w) * float(p) for label, p in zip(self._labels, self._probabilities(features))}
            for item in message.get("intent_ranking") or []:
                blended[item["name"]] = blended.get(item["name"], 0.0) + w * float(item["confidence"])
            rows = message.get(SENTENCE_FEATURES)
            if rows is not None and rows.shape[0] >= 2:
                blended = self._with_sentence_vote(blended, rows)
            ranking = sorted(({"name": k, "confidence": v} for k, v in blended.items()),
                             key=lambda r: r["confidence"], reverse=True)
            message.set("intent", ranking[0], add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages


# ---------------------------------------------------------------------------------------------- early stopping

EARLY_STOPPING_DEFAULTS: Dict[Text, Any] = {
    # Evaluations (not epochs) without improvement before stopping.
    "patience": 3,
    # Never stop before this epoch (the first epochs are noisy on small batches).
    "min_epochs": 20,
    # An improvement smaller than this does not count.
    "min_delta": 0.002,
    # Keep the weights of the best evaluation (DIET) or of the last epoch (ResponseSelector: its
    # validation accuracy on a few dozen questions peaks early and does not predict the FAQ accuracy).
    "restore_best_weights": True,
}


class PatienceEarlyStopping(tf.keras.callbacks.Callback):
    """Stop when the validation accuracy has not improved for `patience` evaluations.

    Why: DIET reached a training accuracy of 1.0 from about epoch 20 of 100 (issue 14), and each epoch
    costs 2–40 s on shared cores. The accuracy watched is measured on `evaluate_on_number_of_examples`
    messages Rasa carves out of the *training* data before training (never the held-out sets of
    nlu/tests/), every `evaluate_every_number_of_epochs` epochs. The best weights seen are restored, so
    stopping early never costs accuracy. Rasa's own progress bar ("Epochs: n/N") keeps printing; it
    simply ends before N.
    """

    def __init__(self, metric: Text, patience: int, min_epochs: int, min_delta: float, restore: bool = True) -> None:
        super().__init__()
        self.metric, self.patience, self.min_epochs, self.min_delta = metric, patience, min_epochs, min_delta
        self.restore = restore
        self.best: Optional[float] = None
        self.best_weights: Optional[List[np.ndarray]] = None
        self.best_epoch = 0
        self.waited = 0
        self.stopped_epoch: Optional[int] = None

    def on_epoch_end(self, epoch: int, logs: Optional[Dict[Text, Any]] = None) -> None:
        value = (logs or {}).get(self.metric)
        if value is None:  # not an evaluation epoch
            return
        value = float(value)
        if self.best is None or value > self.best + self.min_delta:
            self.best, self.best_epoch, self.waited = value, epoch + 1, 0
            self.best_weights = self.model.get_weights()
            return
        self.waited += 1
        if self.waited >= self.patience and epoch + 1 >= self.min_epochs:
            self.stopped_epoch = epoch + 1
            self.model.stop_training = True

    def on_train_end(self, logs: Optional[Dict[Text, Any]] = None) -> None:
        if self.restore and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        if self.stopped_epoch:
            # Printed after Rasa's progress bar, so the training log says why it ended before N.
            print(f"Early stopping: {self.metric} {self.best:.3f} at epoch {self.best_epoch}, "
                  f"stopped at epoch {self.stopped_epoch}", flush=True)


class _EarlyStoppingTraining:
    """Mixin: train() with the early-stopping callback added to Rasa's own callbacks."""

    VALIDATION_METRIC = "val_i_acc"

    def _early_stopping_train(self, train: Any, training_data: TrainingData) -> Resource:
        config = self.component_config  # type: ignore[attr-defined]
        if not config.get("evaluate_on_number_of_examples") or config.get("evaluate_every_number_of_epochs", -1) < 1:
            return train(training_data)
        original = train_utils.create_common_callbacks
        early = PatienceEarlyStopping(self.VALIDATION_METRIC, int(config["patience"]), int(config["min_epochs"]),
                                      float(config["min_delta"]), bool(config["restore_best_weights"]))

        def with_early_stopping(*args: Any, **kwargs: Any) -> List[Any]:
            return [*original(*args, **kwargs), early]

        # Rasa builds the callback list inside train() with no hook to add one: swap the factory
        # for the duration of this call (Rasa trains the graph's components one after another).
        train_utils.create_common_callbacks = with_early_stopping
        try:
            return train(training_data)
        finally:
            train_utils.create_common_callbacks = original


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR],
    is_trainable=True,
)
class EarlyStoppingDIETClassifier(_EarlyStoppingTraining, DIETClassifier):
    """DIETClassifier that stops when its held-out intent accuracy stops improving."""

    VALIDATION_METRIC = "val_i_acc"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**DIETClassifier.get_default_config(), **EARLY_STOPPING_DEFAULTS}

    def train(self, training_data: TrainingData) -> Resource:
        return self._early_stopping_train(super().train, training_data)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class EarlyStoppingResponseSelector(_EarlyStoppingTraining, ResponseSelector):
    """ResponseSelector that stops when its held-out response accuracy stops improving."""

    VALIDATION_METRIC = "val_r_acc"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {**ResponseSelector.get_default_config(), **EARLY_STOPPING_DEFAULTS}

    def train(self, training_data: TrainingData) -> Resource:
        return self._early_stopping_train(super().train, training_data)
