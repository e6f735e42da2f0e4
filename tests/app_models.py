"""Tiny untrained NER and sentiment checkpoints for the app tests: the real checkpoint format and the
real predictors, with a few thousand weights, so the tests do not depend on the bundled models."""
from __future__ import annotations

from pathlib import Path

import torch

from tasks import ner, sentiment
from zoo import checkpoint

from conftest import NER_LABELS, ner_sentences

SENTIMENT_TEXTS = [["a", "gorgeous", ",", "witty", "movie", "."], ["an", "unfunny", ",", "overlong", "mess", "."],
                   ["not", "bad", "at", "all", "."], ["painfully", "dull", "acting", "."]]


def _save(folder: Path, model, config: dict, tokenizer) -> None:
    checkpoint.save(folder, model, config, files={"tokenizer.json": tokenizer.to_str()})


def write_models(root: Path, tasks=("ner", "sentiment", "imdb")) -> Path:
    """root/{task}-{rnn,lstm,bilstm}/ checkpoints with a test metric in their configs ("imdb": sentiment
    models that read at most 400 words, named like the bundled IMDB models)."""
    torch.manual_seed(0)
    if "ner" in tasks:
        sents = [toks for toks, _ in ner_sentences(40)]
        featurize = ner.Featurizer.fit(sents, min_word_freq=1)
        for i, arch in enumerate(("rnn", "lstm", "bilstm")):
            emb = dict(word_dim=8, char_dim=4, char_filters=4, casing_dim=2, dropout=0.0)
            config = {**ner.make_config(arch, featurize, NER_LABELS, emb, data={"path": "tests/sample"}, hidden_size=6),
                      "metrics": {"test": {"f1": 50.0 + i}}}
            _save(root / f"ner-{arch}", ner.build_model(config), config, featurize.tokenizer)
    for task in ("sentiment", "imdb"):
        if task not in tasks:
            continue
        vectorize = sentiment.Vectorizer.fit(SENTIMENT_TEXTS, max_len=400 if task == "imdb" else 0)
        for i, arch in enumerate(("rnn", "lstm", "bilstm")):
            config = {**sentiment.make_config(arch, vectorize, dict(word_dim=8, dropout=0.0), data={"path": "tests/sample"},
                                              name=f"{task}-{arch}", hidden_size=6),
                      "metrics": {"test": {"accuracy": 70.0 + i}}}
            _save(root / f"{task}-{arch}", sentiment.build_model(config), config, vectorize.tokenizer)
    return root
