"""Text to word ids for the sentiment models: the words split and then looked up (Vectorizer.word_ids of
sentiment.words) against Vectorizer.ids, which keeps each distinct whitespace chunk's ids, on SST-2 validation
and 2,000 IMDB test reviews (seed 0), the two interleaved round by round, one thread. Prints ms per pass.

    python bench/text_ids.py [--rounds 15]
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import zoo  # noqa: E402
from tasks import sentiment  # noqa: E402
from zoo import cpu, data  # noqa: E402
from peer_common import race  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=15)
    args = p.parse_args(argv)
    print(cpu.describe())
    imdb = list(data.load(str(DATA / "imdb"))[0]["test"]["text"])
    inputs = {"sentiment-rnn": list(data.load(str(DATA / "sst2"))[0]["validation"]["sentence"]),
              "imdb-rnn": [imdb[i] for i in random.Random(0).sample(range(len(imdb)), 2000)]}
    print("| model | texts | split, then looked up: ms | Vectorizer.ids: ms | speed-up |\n|---|---:|---:|---:|---:|")
    for name, texts in inputs.items():
        vec = zoo.load(name).vectorize
        assert [vec.ids(t) for t in texts] == [vec.word_ids(sentiment.words(t, vec.max_len)) for t in texts]
        med = race({"split": lambda: [vec.word_ids(sentiment.words(t, vec.max_len)) for t in texts],
                    "ids": lambda: [vec.ids(t) for t in texts]}, args.rounds)
        print(f"| {name} | {len(texts):,} | {1000 * med['split']:.2f} | {1000 * med['ids']:.2f} | "
              f"{med['split'] / med['ids']:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
