"""Shared fixtures: small datasets the tests write themselves (never copies of ../shared/datasets)."""
import os
import random
from pathlib import Path

# One torch thread per process: the models are small, and on a busy 2-core machine a second thread
# spins against other processes (a 5,000-word prediction went from 0.6 s to 3.4 s). Set before torch
# loads, and inherited by the CLI subprocesses the tests start.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
needs_shared_data = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} is absent")

NER_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
_PEOPLE = [["Peter", "Blackburn"], ["Angela", "Merkel"], ["John"], ["Mary", "Smith"], ["Chan"]]
_ORGS = [["European", "Commission"], ["Reuters"], ["UN"], ["Bank", "of", "Korea"]]
_PLACES = [["Germany"], ["Seoul"], ["New", "York"], ["Brussels"], ["U.S."]]
_TEMPLATES = [("P", "visited", "L", "."), ("P", "works", "for", "O", "in", "L", "."),
              ("O", "said", "on", "Monday", "that", "P", "left", "."), ("the", "O", "office", "in", "L", "closed", ".")]


def ner_sentences(n: int, seed: int = 0):
    """Synthetic CoNLL-style sentences with IOB2 tags (label ids into NER_LABELS)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        tokens, tags = [], []
        for slot in rng.choice(_TEMPLATES):
            pool = {"P": (_PEOPLE, "PER"), "O": (_ORGS, "ORG"), "L": (_PLACES, "LOC")}.get(slot)
            if pool is None:
                tokens.append(slot)
                tags.append(0)
                continue
            words = rng.choice(pool[0])
            tokens += words
            tags += [NER_LABELS.index(("B-" if i == 0 else "I-") + pool[1]) for i in range(len(words))]
        out.append((tokens, tags))
    return out


@pytest.fixture(scope="session")
def conll_sample(tmp_path_factory) -> Path:
    """A folder of train/validation/test parquet splits with the features of eriktks/conll2003."""
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    folder = tmp_path_factory.mktemp("conll_sample")
    features = Features({"id": Value("string"), "tokens": Sequence(Value("string")),
                         "ner_tags": Sequence(ClassLabel(names=NER_LABELS))})
    for split, n, seed in (("train", 120, 0), ("validation", 30, 1), ("test", 30, 2)):
        rows = ner_sentences(n, seed)
        Dataset.from_dict({"id": [str(i) for i in range(n)], "tokens": [r[0] for r in rows],
                           "ner_tags": [r[1] for r in rows]}, features=features).to_parquet(folder / f"{split}.parquet")
    return folder
