"""Character and word TF-IDF features of the pipeline's linear models (Rasa side, Python 3.10).

Shared by the intent classifier (nlu/rasa_intent.py) and the FAQ selector (nlu/faq_selector.py). Only
NumPy, SciPy and scikit-learn are imported: this runs inside .venv-rasa, never in the gateway.

Both models score a message as `features · coef + intercept`. Training builds the sparse matrix with
scikit-learn's vectorizers; a parse gathers the coefficient rows of the n-grams present instead
(`TextFeatures.scores`): transform() and SciPy's sparse products cost about a millisecond of
validation and conversions per call, and a letter needs several calls. The numbers are the same:
sublinear tf, smoothed idf, each block L2-normalised.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, NamedTuple, Sequence, Text, Tuple

import numpy as np
import scipy.sparse
from sklearn.feature_extraction.text import CountVectorizer

# scikit-learn's character analyzer collapses runs of whitespace the same way.
WHITESPACE = re.compile(r"\s\s+")


class Tfidf:
    """Sublinear, smoothed-idf, L2-normalised TF-IDF over a fixed vocabulary (as scikit-learn's
    TfidfVectorizer computes it, persisted as plain JSON instead of a pickle)."""

    def __init__(self, vectorizer: CountVectorizer, idf: np.ndarray) -> None:
        self.vectorizer, self.idf = vectorizer, idf.astype(np.float64)

    @classmethod
    def fit(cls, vectorizer: CountVectorizer, docs: Sequence[Any]) -> "Tfidf":
        counts = vectorizer.fit_transform(docs).tocsc()
        df = np.diff(counts.indptr)
        idf = np.log((1.0 + counts.shape[0]) / (1.0 + df)) + 1.0
        return cls(vectorizer, idf)

    def transform(self, docs: Sequence[Any]) -> scipy.sparse.csr_matrix:
        counts = self.vectorizer.transform(docs).tocsr().astype(np.float64)
        counts.data = 1.0 + np.log(counts.data)
        counts.data *= self.idf[counts.indices]
        norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return scipy.sparse.diags(1.0 / norms).dot(counts).tocsr()

    @property
    def index(self) -> Dict[Text, int]:
        vectorizer = self.vectorizer
        return vectorizer.vocabulary_ if hasattr(vectorizer, "vocabulary_") else vectorizer.vocabulary

    def state(self) -> Dict[Text, Any]:
        return {"vocabulary": {k: int(v) for k, v in self.index.items()}, "idf": [float(x) for x in self.idf]}


class Vector(NamedTuple):
    """One text's TF-IDF as its non-zero columns and their weights."""

    index: np.ndarray
    weights: np.ndarray

    def scores(self, coef_t: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """`vector · coef + intercept` from the coefficient rows of the columns present (`coef_t`: features ×
        classes, C-contiguous)."""
        if not len(self.index):
            return intercept.copy()
        return self.weights.dot(coef_t[self.index]) + intercept


def identity(tokens: List[Text]) -> List[Text]:
    return tokens


def ngram_counts(items: Sequence[Text], ngrams: Tuple[int, int], index: Dict[Text, int]) -> Dict[int, int]:
    """Counts of the known n-grams of a string (characters) or a token list (words, unigrams)."""
    counts: Dict[int, int] = {}
    for n in range(ngrams[0], ngrams[1] + 1):
        for i in range(len(items) - n + 1):
            gram = items[i:i + n] if n > 1 else items[i]
            j = index.get(gram)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
    return counts


def softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return exp / exp.sum(axis=1, keepdims=True)


class TextFeatures:
    """Character n-grams of the lower-cased text and the tokenizer's words, two TF-IDF blocks."""

    def __init__(self, chars: Tfidf, words: Tfidf, char_range: Tuple[int, int]) -> None:
        self.chars, self.words, self.char_range = chars, words, char_range
        self._char_index, self._word_index = chars.index, words.index
        self._word_offset = len(chars.idf)

    @staticmethod
    def char_vectorizer(char_range: Tuple[int, int], min_df: int = 1,
                        vocabulary: Dict[Text, int] | None = None) -> CountVectorizer:
        return CountVectorizer(analyzer="char", lowercase=True, vocabulary=vocabulary, ngram_range=char_range,
                               min_df=1 if vocabulary else min_df)

    @staticmethod
    def word_vectorizer(vocabulary: Dict[Text, int] | None = None) -> CountVectorizer:
        return CountVectorizer(analyzer=identity, vocabulary=vocabulary)

    @classmethod
    def fit(cls, texts: List[Text], words: List[List[Text]], char_range: Tuple[int, int],
            char_min_df: int = 1) -> "TextFeatures":
        return cls(Tfidf.fit(cls.char_vectorizer(char_range, char_min_df), texts),
                   Tfidf.fit(cls.word_vectorizer(), words), char_range)

    @classmethod
    def from_state(cls, state: Dict[Text, Any], char_range: Tuple[int, int]) -> "TextFeatures":
        chars, words = state["chars"], state["words"]
        return cls(Tfidf(cls.char_vectorizer(char_range, vocabulary=chars["vocabulary"]), np.asarray(chars["idf"])),
                   Tfidf(cls.word_vectorizer(words["vocabulary"]), np.asarray(words["idf"])), char_range)

    def state(self) -> Dict[Text, Any]:
        return {"chars": self.chars.state(), "words": self.words.state()}

    @property
    def sizes(self) -> Tuple[int, int]:
        return len(self.chars.idf), len(self.words.idf)

    def matrix(self, texts: List[Text], words: List[List[Text]]) -> scipy.sparse.csr_matrix:
        """The training matrix (scikit-learn's vectorizers)."""
        return scipy.sparse.hstack([self.chars.transform(texts), self.words.transform(words)]).tocsr()

    def vector(self, text: Text, words: List[Text]) -> Vector:
        """The TF-IDF vector of one text. Models over the same features score it without counting its
        n-grams again (the intent classifier and the duty prior score every matter)."""
        chars = ngram_counts(WHITESPACE.sub(" ", text.lower()), self.char_range, self._char_index)
        found = ngram_counts(words, (1, 1), self._word_index)
        rows, weights = [], []
        for counts, idf, offset in ((chars, self.chars.idf, 0), (found, self.words.idf, self._word_offset)):
            if not counts:
                continue
            index = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
            w = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) * idf[index]
            rows.append(index + offset)
            weights.append(w / np.sqrt(w.dot(w)))
        if not rows:
            return Vector(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
        return Vector(np.concatenate(rows), np.concatenate(weights))

    def scores(self, text: Text, words: List[Text], coef_t: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        """`features · coef + intercept` of one text (`coef_t`: the coefficients transposed, features ×
        classes, C-contiguous)."""
        return self.vector(text, words).scores(coef_t, intercept)
