"""Sentiment (SST-2, IMDB): the many-to-one pattern, one label for a whole text.

    python train/sentiment.py --arch bilstm --data ../shared/datasets/sst2 --threads 1
    python train/sentiment.py --arch lstm --data ../shared/datasets/imdb --max-len 400 --out runs/imdb-lstm
    python -m zoo evaluate sentiment-bilstm --data ../shared/datasets/sst2 --split test

    p = zoo.load("sentiment-lstm")
    p.predict("a gorgeous , witty , seductive movie .")       # {"label": "positive", "positive": 0.98, ...}
    p.prob_positive_by_step("not bad at all")                # P(positive) after each word

Text is split the Penn Treebank way (tasks.text.tokenize: "don't" -> do n't), as SST-2 already is, and
lower-cased by the tokenizer; IMDB's <br /> tags are removed first. The RNN and LSTM read the state
after the last word ("final"); the BiLSTM joins the forward state at the end with the backward state at
the start ("final") or takes the max over time of every step's output ("max"); train/sentiment.py picks
one of the two on validation data and the choice is stored as config["model"]["pool"].
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from tokenizers import Tokenizer
from torch import nn

from tasks.sentiment_data import (Vectorizer, batches, check_data, collate, encode_split, gold_labels,  # noqa: F401
                                  held_out_validation, row_problem, text_column, validation_of, words)  # the task's data, sentiment.* as before
from tasks.text import MAX_TOKENS
from zoo.batching import batch_inputs, prepare_each
from zoo.card import DATASETS
from zoo.devices import of
from zoo.embedding import PAD_ID, Dropout, EmbeddingConfig, TokenEmbedder
from zoo.encoder import RecurrentEncoder

TASK = "sentiment"
HUB_DATA = DATASETS["sst2"]["hub_id"]  # the default --data; zoo.card owns the ids
FILES = ("tokenizer.json",)  # the vocabulary
PREDICT_KEYS = ("text",)  # python -m zoo predict: a JSON line's input (or a text line)
CARD = ("text-classification", "sentiment classification", "A gripping, beautifully acted film.")
LABELS = ["negative", "positive"]  # model output order; datasets name them differently (neg/pos)
POOLS = ("final", "max")
WORD_INITS = ("small", "normal")
@dataclass
class SentimentConfig:
    arch: str
    embedding: EmbeddingConfig
    hidden_size: int = 150
    num_layers: int = 1
    dropout: float = 0.5      # before the output layer
    pool: str = "final"       # "final": state after the last word; "max": max over time of all outputs
    init: str = "keras"       # the recurrent layer's starting weights (zoo.encoder.INITS); only training reads it
    word_init: str = "small"  # word vectors' start: "small" (uniform +-0.05, Keras's) or "normal" (N(0, 1), torch's)

    @classmethod
    def from_dict(cls, d: dict) -> "SentimentConfig":
        return cls(**{**d, "embedding": EmbeddingConfig(**d["embedding"])})


class SentimentModel(nn.Module):
    def __init__(self, cfg: SentimentConfig):
        super().__init__()
        if cfg.pool not in POOLS:
            raise ValueError(f"unknown pool {cfg.pool!r}; choose one of {', '.join(POOLS)}")
        self.cfg = cfg
        if cfg.word_init not in WORD_INITS:
            raise ValueError(f"unknown word_init {cfg.word_init!r}; choose one of {', '.join(WORD_INITS)}")
        self.embed = TokenEmbedder(cfg.embedding)
        if cfg.word_init == "normal":  # torch's nn.Embedding default, as the first IMDB runs started
            with torch.no_grad():
                self.embed.words.weight.normal_()
                self.embed.words.weight[PAD_ID] = 0.0
        self.encoder = RecurrentEncoder(cfg.arch, cfg.embedding.output_size, cfg.hidden_size, cfg.num_layers, cfg.dropout,
                                        cfg.init)
        self.dropout = Dropout(cfg.dropout)
        self.head = nn.Linear(self.encoder.output_size, len(LABELS))

    def _outputs(self, batch, outputs: bool = True):
        dev = of(self)  # batches are built on the CPU; follow the model to a GPU if it is on one
        words = batch["words"].to(dev)
        # "final" pooling reads the last state alone, so the outputs at every step are left out (None)
        out, final = self.encoder.encode(self.embed, {"words": words}, batch["lengths"], outputs=outputs)  # (B, T, D), (B, D)
        return words, out, final

    def forward(self, batch) -> torch.Tensor:
        """-> logits (B, 2)."""
        words, out, final = self._outputs(batch, outputs=self.cfg.pool == "max")
        if self.cfg.pool == "max":
            final = out.masked_fill((words == PAD_ID)[..., None], float("-inf")).amax(dim=1)  # (B, D)
        return self.head(self.dropout(final))

    def loss(self, batch):
        return nn.functional.cross_entropy(self(batch), batch["labels"].to(of(self)))

    @torch.no_grad()
    def prob_positive(self, batch) -> torch.Tensor:
        return self(batch).softmax(-1)[:, 1].cpu()  # (B,)

    @torch.no_grad()
    def prob_positive_by_step(self, batch) -> torch.Tensor:
        """One text (1, T) -> P(positive) after each word (T,), reading left to right.

        For the RNN and LSTM the output after word t is exactly the final state of the prefix ending at
        t, so the last value equals prob_positive. The BiLSTM's backward half has read words that come
        later, so it is dropped (its share of the output layer is left out): the curve is the forward
        LSTM's reading and its last value need not equal prob_positive."""
        _, out, _ = self._outputs(batch)  # (1, T, D)
        if self.encoder.bidirectional:
            out = torch.cat([out[..., :self.cfg.hidden_size], torch.zeros_like(out[..., self.cfg.hidden_size:])], -1)
        if self.cfg.pool == "max":
            out = out.cummax(dim=1).values  # max over the prefix read so far
        return self.head(out[0]).softmax(-1)[:, 1].cpu()  # (T,)


def score(gold: list[int], pred: list[int]) -> dict:
    """Accuracy and macro-averaged F1 over the two classes, in %."""
    acc = sum(g == p for g, p in zip(gold, pred)) / max(len(gold), 1)
    f1s = []
    for c in (0, 1):
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        n_pred, n_gold = sum(p == c for p in pred), sum(g == c for g in gold)
        f1s.append(2 * tp / (n_pred + n_gold) if n_pred + n_gold else 0.0)
    return {"accuracy": round(100 * acc, 2), "macro_f1": round(100 * sum(f1s) / 2, 2)}


def evaluate(model: SentimentModel, examples: list[dict], batch_size: int = 256) -> dict:
    gold = [e["label"] for e in examples]
    if not examples or all(g < 0 for g in gold):
        raise ValueError("this split has no labels (all -1; the Hub copy of SST-2 hides its test labels): "
                         "evaluate on validation, or on a copy with labels such as ../shared/datasets/sst2")
    model.eval()
    pred = [0] * len(examples)
    for idx, batch in batches(examples, batch_size):
        for i, p in zip(idx, model.prob_positive(batch).tolist()):
            pred[i] = int(p > 0.5)
    keep = [i for i, g in enumerate(gold) if g >= 0]
    return score([gold[i] for i in keep], [pred[i] for i in keep])


def build_model(config: dict) -> SentimentModel:
    return SentimentModel(SentimentConfig.from_dict(config["model"]))


def make_config(arch: str, vectorize: Vectorizer, embedding: dict, data: dict | None = None, name: str | None = None,
                **model) -> dict:
    """The checkpoint's config.json (before training adds metrics and the recipe). embedding: EmbeddingConfig
    fields; model: SentimentConfig fields (hidden_size, dropout, pool, ...)."""
    emb = EmbeddingConfig(vocab_size=len(vectorize.word_ids), **embedding)
    return {"task": TASK, "name": name or f"{TASK}-{arch}", "arch": arch,
            "model": asdict(SentimentConfig(arch=arch, embedding=emb, **model)), "labels": list(LABELS),
            "max_len": vectorize.max_len, "metric": "accuracy", "data": data or {}}


class Predictor:
    """A loaded sentiment checkpoint. predict("a gorgeous , witty movie") -> {"label", "positive": p, "negative": 1 - p}.

    The text predictors' one interface (NER and sentiment alike): words(text), encode(text) -> (words, batch),
    predict(text, scores=...); zoo.probe and the app use only these."""

    task = TASK

    def __init__(self, model: SentimentModel, config: dict, files: dict[str, str]):
        self.model, self.config = model.eval(), config
        self.vectorize = Vectorizer(Tokenizer.from_str(files["tokenizer.json"]), config.get("max_len", 0))

    def words(self, text: str) -> list[str]:
        """The words the model reads (the first max_len of them where the checkpoint has a max_len)."""
        return words(text, self.vectorize.max_len)

    def _ids(self, text: str) -> list[int]:
        """-> the ids of the words the model reads (Vectorizer.ids). TypeError for a non-str; ValueError for a
        text over the limits or with no words at all (empty, only spaces)."""
        ids = self.vectorize.ids(text)
        if len(ids) > MAX_TOKENS:
            raise ValueError(f"{len(ids):,} tokens; the limit is {MAX_TOKENS:,}")  # as the taggers say it
        if not ids:
            raise ValueError("the text has no words to classify")
        return ids

    def encode(self, text: str) -> tuple[list[str], dict]:
        """-> (the words the model reads, a batch of one); errors as _ids."""
        ids = self._ids(text)
        return self.words(text), collate([{"words": ids}])

    @staticmethod
    def _result(p: float, scores: bool) -> dict:
        label = {"label": LABELS[int(p > 0.5)]}
        return {**label, "positive": p, "negative": 1.0 - p} if scores else label

    def predict(self, text: str, scores: bool = True) -> dict:
        """-> {"label": "positive" | "negative", "positive": p, "negative": 1 - p}; scores=False: the label alone
        (every task's answer carries its label or tags; scores adds the probabilities). Punctuation, emoji and
        unknown scripts are words (mostly <unk>) and get a result."""
        return self._result(float(self.model.prob_positive(collate([{"words": self._ids(text)}]))[0]), scores)

    def predict_batch(self, inputs: list[str], batch_size: int = 64, scores: bool = True, errors: str = "raise") -> list[dict]:
        """predict for many texts: one padded pass per batch of similar length, answers in input order (equal
        to predict on each in fp32, probabilities within float rounding; in int8 the activations are quantized per
        call, so an answer can move a little with its batch). A bad text is an error naming its index, or
        with errors="record" an {"error": message} in its place (python -m zoo predict goes on with the rest)."""
        inputs = batch_inputs(inputs, batch_size, errors)
        live, examples, results = prepare_each(inputs, lambda text: {"words": self._ids(text)}, errors)
        for idx, batch in batches(examples, batch_size):
            for j, p in zip(idx, self.model.prob_positive(batch).tolist()):
                results[live[j]] = self._result(p, scores)
        return results

    def prob_positive_by_step(self, text: str) -> list[float]:
        """P(positive) after each word, left to right (one value per word; [] for a text with no words).
        The BiLSTM's curve uses its forward direction only (see SentimentModel.prob_positive_by_step)."""
        if not self.words(text):
            return []
        return self.model.prob_positive_by_step(self.encode(text)[1]).tolist()

    def evaluate(self, split) -> dict:
        """{"accuracy", "macro_f1"} in % on a datasets split with a text/sentence and a label column."""
        columns = set(split.column_names)
        if "label" not in columns or not columns & {"sentence", "text"}:  # another task's data: one line
            raise ValueError(f"the split has no label and sentence (or text) columns (it has: "
                             f"{', '.join(split.column_names)}); a sentiment model is scored on SST-2- or IMDB-style data")
        problem = row_problem(split, hidden_ok=True)
        if problem:
            raise ValueError(problem)
        return evaluate(self.model, encode_split(split, self.vectorize))
