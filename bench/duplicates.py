"""并单 benchmark: the quality of the duplicate detectors on the labelled set, and the speed of the
index over many open tickets.

    .venv/bin/python -m bench.duplicates [--tickets 20000] [--queries 500] [--arrivals 50] [--only-clusters]

Quality: precision and recall over every pair of ``tests/ticketing/duplicates/data/duplicates.yaml``
at each method's best threshold with precision ≥ 0.9: TF-IDF cosine and Jaccard on the whole
text's bigrams, MinHash LSH (``datasketch``, when installed: it is not a dependency of the gateway)
and TF-IDF on the site bigrams with the problem-kind gate, and the chosen set cosine.

Speed: ``--tickets`` synthetic open tickets (sites × problems × phrasings, every fifth one a
duplicate of another), the index build, and a ticket's duplicates through the inverted index
beside the baseline measured in the same run — scoring the same ticket against every indexed
ticket — as wall time per query and CPU-ms per query (``resource.getrusage``), with the ratio.

Clusters: the rebuild of the index and of every ticket's neighbours (what the clusters page cost
before the worker kept them) beside the worker's live graph — its first build, one period of
``--arrivals`` new and as many closed tickets, and the walk of the graph into clusters.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import resource
import statistics
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import yaml

from ticketing.duplicates.index import DEFAULT_THRESHOLD, DuplicateIndex, TicketText, problem_factor
from ticketing.duplicates.signatures import normalise, problems, site_features

DATA = Path(__file__).resolve().parent.parent / "tests" / "ticketing" / "duplicates" / "data" / "duplicates.yaml"
# A city has thousands of named places: roads and estates made of two characters each.
_CHARS = "建中开光矿曙优湛新凌体长神南北园西东姚焦锦帝康阳盛金翰御龙业和平兴华民胜利前进朝丰泰安"
SITES = [a + b + suffix for a in _CHARS for b in _CHARS if a != b for suffix in ("路", "街")][:1500]
ESTATES = [a + b for a in reversed(_CHARS) for b in _CHARS if a != b][:1500]
TROUBLES = ["路灯不亮", "垃圾无人清运", "夜间施工噪音扰民", "停水三天", "暖气不热", "占道经营", "电梯故障",
            "井盖丢失", "红绿灯不亮", "路面塌陷有大坑"]
REGIONS = ["xinhua", "weidong", "zhanhe", "shifanqu", "gaoxin", "ruzhou", "wugang", "baofeng", "jiaxian", "lushan",
           "yexian", "shilong"]
PHRASES = ["{site}{estate}小区{trouble}，请尽快处理", "来电人反映{site}{estate}花园{trouble}",
           "市长您好，{site}附近{estate}小区{trouble}已经好几天了", "{estate}小区（{site}）{trouble}，没人管"]


def labelled() -> list[tuple[str, str]]:
    groups = yaml.safe_load(DATA.read_text(encoding="utf-8"))["groups"]
    return [(group["key"], item["text"]) for group in groups for item in group["texts"]]


def whole_bigrams(text: str) -> Counter[str]:
    normalised = normalise(text)
    return Counter(run[i:i + 2] for run in normalised.split() for i in range(len(run) - 1))


def best(scores: list[tuple[float, bool]]) -> tuple[float, float, float] | None:
    positives = sum(label for _, label in scores)
    found = None
    for step in range(2, 100):
        threshold = step / 100
        tp = sum(1 for s, label in scores if s >= threshold and label)
        fp = sum(1 for s, label in scores if s >= threshold and not label)
        precision, recall = tp / max(1, tp + fp), tp / positives
        if precision >= 0.9 and (found is None or recall > found[2]):
            found = (threshold, precision, recall)
    return found


def cosine_scores(docs, featurise: Callable[[str], Counter[str]], *, idf: bool, gate: bool):
    feats = [featurise(text) for _, text in docs]
    kinds = [problems(text) for _, text in docs]
    df = Counter(f for fs in feats for f in set(fs))
    total = len(docs)
    vectors = []
    for fs in feats:
        weights = {f: ((1 + math.log(c)) * (math.log((1 + total) / (1 + df[f])) + 1)) if idf else 1.0
                   for f, c in fs.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        vectors.append({f: w / norm for f, w in weights.items()})
    out = []
    for i, j in itertools.combinations(range(total), 2):
        score = sum(w * vectors[j].get(f, 0.0) for f, w in vectors[i].items())
        out.append((score * (problem_factor(kinds[i], kinds[j]) if gate else 1.0), docs[i][0] == docs[j][0]))
    return out


def jaccard_scores(docs, featurise, *, gate: bool):
    sets = [set(featurise(text)) for _, text in docs]
    kinds = [problems(text) for _, text in docs]
    out = []
    for i, j in itertools.combinations(range(len(docs)), 2):
        score = len(sets[i] & sets[j]) / max(1, len(sets[i] | sets[j]))
        out.append((score * (problem_factor(kinds[i], kinds[j]) if gate else 1.0), docs[i][0] == docs[j][0]))
    return out


def minhash_lsh(docs) -> str:
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:
        return "datasketch not installed (pip install datasketch to measure it)"
    kinds = [problems(text) for _, text in docs]
    signatures = []
    for _, text in docs:
        sig = MinHash(num_perm=128, seed=1)
        for feature in site_features(text):
            sig.update(feature.encode("utf-8"))
        signatures.append(sig)
    rows = []
    for threshold in (0.1, 0.15, 0.2, 0.3):
        lsh = MinHashLSH(threshold=threshold, num_perm=128)
        for i, sig in enumerate(signatures):
            lsh.insert(str(i), sig)
        found = {tuple(sorted((i, int(j)))) for i, sig in enumerate(signatures) for j in lsh.query(sig)
                 if int(j) != i and problem_factor(kinds[i], kinds[int(j)]) > 0}
        truth = {(i, j) for i, j in itertools.combinations(range(len(docs)), 2) if docs[i][0] == docs[j][0]}
        tp = len(found & truth)
        rows.append(f"LSH threshold {threshold}: precision {tp / max(1, len(found)):.2f} "
                    f"recall {tp / len(truth):.2f} candidates {len(found)}")
    return "; ".join(rows)


def quality() -> None:
    docs = labelled()
    pairs = len(docs) * (len(docs) - 1) // 2
    duplicates = sum(1 for a, b in itertools.combinations(docs, 2) if a[0] == b[0])
    print(f"labelled set: {len({k for k, _ in docs})} matters, {len(docs)} texts, {duplicates} duplicate pairs "
          f"of {pairs}")
    methods = [
        ("TF-IDF cosine, whole-text bigrams", cosine_scores(docs, whole_bigrams, idf=True, gate=False)),
        ("Jaccard, whole-text bigrams (what MinHash estimates)", jaccard_scores(docs, whole_bigrams, gate=False)),
        ("Jaccard, site bigrams x problem kinds", jaccard_scores(docs, site_features, gate=True)),
        ("TF-IDF cosine, site bigrams x problem kinds", cosine_scores(docs, site_features, idf=True, gate=True)),
        ("set cosine, site bigrams x problem kinds (chosen)", cosine_scores(docs, site_features, idf=False, gate=True)),
    ]
    for name, scores in methods:
        found = best(scores)
        text = "none reaches precision 0.9" if found is None else \
            f"threshold {found[0]:.2f}  precision {found[1]:.3f}  recall {found[2]:.3f}"
        print(f"  {name:<55} {text}")
    print(f"  MinHash LSH (datasketch), site bigrams x problem kinds: {minhash_lsh(docs)}")
    index = DuplicateIndex.build(TicketText(i, text) for i, (_, text) in enumerate(docs))
    truth = {(i, j) for i, j in itertools.combinations(range(len(docs)), 2) if docs[i][0] == docs[j][0]}
    found = {tuple(sorted((i, n.ticket_id))) for i in range(len(docs))
             for n in index.neighbours(TicketText(i, ""), limit=len(docs))}
    tp = len(found & truth)
    print(f"  the product's index at its threshold {DEFAULT_THRESHOLD}: precision {tp / len(found):.3f} "
          f"recall {tp / len(truth):.3f}")


def synthetic(n: int, rng: random.Random) -> list[TicketText]:
    tickets = []
    for i in range(n):
        site, estate, trouble = rng.choice(SITES), rng.choice(ESTATES), rng.choice(TROUBLES)
        text = rng.choice(PHRASES).format(site=site, estate=estate, trouble=trouble)
        # The NLU finds the region in four texts of five (a district or county named, or its roads).
        region = rng.choice(REGIONS) if rng.random() < 0.8 else None
        tickets.append(TicketText(i, text, region=region))
    return tickets


def cpu_ms() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return (usage.ru_utime + usage.ru_stime) * 1000


def speed(n: int, queries: int) -> None:
    rng = random.Random(311)
    tickets = synthetic(n, rng)
    started, cpu = time.perf_counter(), cpu_ms()
    index = DuplicateIndex.build(tickets)
    print(f"\nindex of {n} open tickets: built in {(time.perf_counter() - started) * 1000:.0f} ms wall, "
          f"{cpu_ms() - cpu:.0f} CPU-ms")
    probes = [TicketText(10**9 + k, (pick := rng.choice(tickets)).text, region=pick.region) for k in range(queries)]

    def run(label: str, query: Callable[[TicketText], object]) -> float:
        times = []
        cpu_before = cpu_ms()
        for probe in probes:
            t0 = time.perf_counter()
            query(probe)
            times.append((time.perf_counter() - t0) * 1000)
        per_query_cpu = (cpu_ms() - cpu_before) / len(probes)
        p95 = statistics.quantiles(times, n=20)[-1]
        print(f"  {label:<48} median {statistics.median(times):7.2f} ms  p95 {p95:7.2f} ms  "
              f"{per_query_cpu:6.2f} CPU-ms/query")
        return statistics.median(times)

    def brute(probe: TicketText) -> list[int]:
        signature = index.signature_of(probe)
        return [tid for tid, other in index._signatures.items()
                if index.score(signature, other) >= index.threshold]

    indexed = run("a ticket's duplicates (inverted index)", lambda probe: index.neighbours(probe))
    baseline = run("baseline: score against every ticket", brute)
    print(f"  ratio indexed / baseline: {indexed / baseline:.3f}")
    started, cpu = time.perf_counter(), cpu_ms()
    groups = index.clusters()
    print(f"  every cluster of the index (once per rebuild): {len(groups)} clusters in "
          f"{(time.perf_counter() - started) * 1000:.0f} ms wall, {cpu_ms() - cpu:.0f} CPU-ms")


def incremental(n: int, arrivals: int) -> None:
    """The worker's live graph (ticketing/duplicates/live.py) against the rebuild it replaces: the
    first build of the graph (once per worker start), then what one period costs when ``arrivals``
    tickets arrive and as many close, and the clusters read from the graph, beside a rebuild of the
    index and every ticket's neighbours (what each page view cost before, once per 30 s)."""
    from datetime import datetime, timezone

    from ticketing.duplicates.live import LiveIndex, Row

    rng = random.Random(312)
    tickets = synthetic(n + arrivals, rng)
    now = datetime.now(timezone.utc)

    def row(item: TicketText, status: str = "pending_review") -> Row:
        return Row(item.ticket_id, None, item.text, status, item.region, None, now, now)

    print(f"\n并单 clusters of {n} open tickets: rebuild (before) against the live graph (now)")
    started, cpu = time.perf_counter(), cpu_ms()
    index = DuplicateIndex.build(tickets[:n])
    groups = index.clusters()
    rebuild_cpu = cpu_ms() - cpu
    print(f"  before: rebuild the index and every ticket's neighbours: {len(groups)} clusters, "
          f"{(time.perf_counter() - started):.1f} s wall, {rebuild_cpu / 1000:.1f} CPU-s (every 30 s a page was seen)")
    live = LiveIndex(days=30)
    started, cpu = time.perf_counter(), cpu_ms()
    live.apply([row(item) for item in tickets[:n]], now=now)
    build_wall, build_cpu = time.perf_counter() - started, cpu_ms() - cpu
    print(f"  now, once per worker start: the graph built (the whole index, then each ticket's neighbours) in "
          f"{build_wall:.1f} s wall, {build_cpu / 1000:.1f} CPU-s: {len(live.clusters())} clusters "
          f"(the rebuild's: {len(groups)})")
    closing = rng.sample(tickets[:n], arrivals)
    started, cpu = time.perf_counter(), cpu_ms()
    changed = live.apply([row(item) for item in tickets[n:]] + [row(item, "closed") for item in closing], now=now)
    period_cpu = cpu_ms() - cpu
    print(f"  now, one period with {arrivals} arrivals and {arrivals} closures: {changed} changes in "
          f"{(time.perf_counter() - started) * 1000:.0f} ms wall, {period_cpu:.0f} CPU-ms "
          f"({period_cpu / changed:.2f} CPU-ms a change)")
    started, cpu = time.perf_counter(), cpu_ms()
    stored = live.clusters()
    walk_cpu = cpu_ms() - cpu
    print(f"  now, the clusters walked from the graph: {len(stored)} clusters in "
          f"{(time.perf_counter() - started) * 1000:.0f} ms wall, {walk_cpu:.0f} CPU-ms")
    print(f"  ratio (period + walk) / rebuild: {(period_cpu + walk_cpu) / rebuild_cpu:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=20000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--arrivals", type=int, default=50, help="tickets arriving (and closing) in one period")
    parser.add_argument("--only-clusters", action="store_true", help="skip quality and query speed")
    args = parser.parse_args()
    if not args.only_clusters:
        quality()
        speed(args.tickets, args.queries)
    incremental(args.tickets, args.arrivals)


if __name__ == "__main__":
    main()
