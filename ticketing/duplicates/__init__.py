"""Duplicate clustering (并单): which open tickets are one matter at one site.

Measured by ``bench/duplicates.py`` on the labelled set ``tests/ticketing/duplicates/data/duplicates.yaml``
(18 matters, 57 texts from chat, 网民留言, mail, phone notes and the national platform; 63 duplicate
pairs among 1,596; the same site with another problem and the same problem at another site side by
side), each method at its best threshold with precision ≥ 0.9:

=======================================================  =========  =========  ======
method                                                   threshold  precision  recall
=======================================================  =========  =========  ======
TF-IDF cosine, whole-text bigrams                        0.33       0.917      0.349
Jaccard, whole-text bigrams (what MinHash estimates)     0.30       0.923      0.190
MinHash LSH (datasketch, 128 perm.), site × problem      0.10       0.96       0.87
Jaccard, site bigrams × problem kinds                    0.07       0.938      0.952
TF-IDF cosine, site bigrams × problem kinds              0.10       0.933      0.889
**set cosine, site bigrams × problem kinds (chosen)**    0.13       0.938      0.968
the index as shipped (threshold 0.15, mid-plateau)       0.15       0.966      0.889
=======================================================  =========  =========  ======

Whatever the similarity, whole texts fail: the problem words and the site words mix in one score,
so "the lights at 建设路/中兴路" is as near to "the pothole at 建设路/中兴路" (same site) and to "the
lights at 光明路/开源路" (same problem) as to its own paraphrases.  Splitting them is what reaches the
target: problem kinds compared as sets (:data:`signatures.PROBLEMS`, synonyms unified), the rest —
the site — compared as character bigrams.  Among the split methods the set cosine is chosen: exact
(no LSH misses), no third-party package (``datasketch`` pulls NumPy and SciPy into the gateway),
and no IDF — weights learnt from the open tickets would make the site of a mass complaint, shared
by most of them, count least exactly when it matters most.  0.15 sits mid-way on the range where
both targets hold (0.13–0.20), not on its edge.  The test ``tests/ticketing/duplicates`` checks
precision ≥ 0.9 and recall ≥ 0.8 of the shipped index on the set.

* :mod:`signatures` — normalisation, site features, problem kinds
* :mod:`index` — the in-memory inverted index, a ticket's neighbours, clusters
* :mod:`live` — the index and same-matter graph kept up to date as tickets arrive, change and close
  (the worker's clusters, a web process's index)
* :mod:`finder` — a web process's index, a ticket's suggestions, the clusters resolved to tickets
* :mod:`merging` — a cluster merged into its main ticket in one transaction
"""
