"""Duplicate clustering (并单): which open tickets are one matter at one site.

Measured on the labelled set ``tests/ticketing/duplicates/data/duplicates.yaml`` (18 matters, 57
texts from chat, 网民留言, mail, phone notes and the national platform; 63 duplicate pairs among
1,596), best threshold at precision ≥ 0.9, on character bigrams (``bench/duplicates.py`` repeats it):

==========================================================  =========  =========  ======
method                                                      threshold  precision  recall
==========================================================  =========  =========  ======
TF-IDF cosine, bigrams of the whole text                    0.43       1.00       0.06
Jaccard of bigram sets (what MinHash LSH estimates)         0.39       1.00       0.03
TF-IDF cosine, site bigrams × problem-kind agreement        **0.13**   **0.93**   **0.89**
Jaccard of site bigram sets × problem-kind agreement        0.12       0.90       0.89
==========================================================  =========  =========  ======

Raw text similarity cannot tell "the lights at 建设路/中兴路" from "the pothole at 建设路/中兴路"
(same site) or from "the lights at 光明路/开源路" (same problem): the problem words and the site
words mix in one score.  Splitting them — problem kinds compared as a set (:data:`signatures.PROBLEMS`),
the rest (the site) compared by TF-IDF cosine — is what reaches the target.  MinHash LSH would
only estimate the Jaccard column (already below TF-IDF, and at a threshold of 0.12 the LSH needs so
many bands that nearly every pair becomes a candidate), so the index is an exact TF-IDF one over
an inverted index (:mod:`ticketing.duplicates.index`), which needs no third-party package.
"""
