"""Named-entity recognition (CoNLL-2003): the many-to-many pattern, one tag per word.

    python train/ner.py --arch bilstm --data ../shared/datasets/conll2003
    python -m zoo evaluate ner-bilstm --data ../shared/datasets/conll2003 --split test

Words are lower-cased with digits mapped to 0; the casing feature and a character CNN give back what
that loses and describe unknown words. Tags are IOB2; scores are entity-level (seqeval, conlleval mode).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import accumulate

import torch
from seqeval.metrics import classification_report
from tokenizers import Tokenizer
from torch import nn

from tasks.ner_data import Featurizer, arrays, batches, check_data, collate, encode_split, row_problem, tag_names  # noqa: F401  (ner.* as before)
from zoo.batching import batch_inputs, live_mask, prepare_each
from zoo.card import DATASETS
from zoo.crf import CRF
from zoo.devices import move, of
from zoo.embedding import Dropout, EmbeddingConfig, TokenEmbedder
from zoo.encoder import RecurrentEncoder
from zoo.onnx_run import OrtForward
from tasks.text import MAX_CHARS, MAX_TOKENS, check_text, tokenize

TASK = "ner"
HUB_DATA = DATASETS["conll2003"]["hub_id"]  # the default --data; zoo.card owns the ids
FILES = ("tokenizer.json",)  # the word vocabulary; the character list is in config.json
MAX_PREFIX_WORDS = 200  # tags_by_prefix: 200 rows of up to 200 words, about 2 s on one core
PREDICT_KEYS = ("tokens", "text")  # python -m zoo predict: a JSON line's input, the first key it has (or a text line)
CARD = ("token-classification", "named-entity recognition", "EU rejects German call to boycott British lamb .")


@dataclass
class NERConfig:
    arch: str
    num_tags: int
    embedding: EmbeddingConfig
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.5
    crf: bool = True

    @classmethod
    def from_dict(cls, d: dict) -> "NERConfig":
        return cls(**{**d, "embedding": EmbeddingConfig(**d["embedding"])})


class NERModel(nn.Module):
    def __init__(self, cfg: NERConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = TokenEmbedder(cfg.embedding)
        self.encoder = RecurrentEncoder(cfg.arch, cfg.embedding.output_size, cfg.hidden_size, cfg.num_layers, cfg.dropout)
        self.dropout = Dropout(cfg.dropout)
        self.head = nn.Linear(self.encoder.output_size, cfg.num_tags)
        self.crf = CRF(cfg.num_tags) if cfg.crf else None

    def forward(self, batch):
        """-> emissions (B, T, K): one score per tag per word. Batches are built on the CPU; they follow the
        model to its device."""
        batch = move(batch, of(self))
        out, _ = self.encoder.encode(self.embed, batch, batch["lengths"])  # (B, T, D)
        return self.head(self.dropout(out))  # (B, T, K)

    def loss(self, batch):
        batch = move(batch, of(self))
        em = self(batch)
        mask = live_mask(batch["lengths"].to(em.device), em.size(1))  # from the lengths: any word id may be a word
        if self.crf is not None:
            return self.crf.nll(em, batch["tags"], mask)
        return nn.functional.cross_entropy(em[mask], batch["tags"][mask])

    @torch.no_grad()
    def tag(self, batch) -> tuple[list[list[int]], torch.Tensor]:
        """-> the best tag sequence of each sentence (the CRF's Viterbi path, or each word's best tag without
        a CRF) and the emission scores (B, T, K) they were decoded from."""
        batch = move(batch, of(self))
        lengths = batch["lengths"].tolist()  # before the network runs: after it, every Python step costs more
        em = self(batch)
        if self.crf is not None:
            return self.crf.decode(em, lengths), em
        best = em.argmax(-1).tolist()
        return [row[:n] for row, n in zip(best, lengths)], em

    def decode(self, batch) -> list[list[int]]:
        return self.tag(batch)[0]


def entity_spans(tags: list[str]) -> list[tuple[str, int, int]]:
    """IOB2 tags -> (type, first, last + 1) word spans, read the way conlleval reads them:
    an I-X after O or after another type starts a new entity."""
    spans, start, kind = [], None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, t = tag.partition("-")
        if kind is not None and (prefix != "I" or t != kind):
            spans.append((kind, start, i))
            kind = None
        if prefix in ("B", "I") and kind is None:
            start, kind = i, t
    return spans


def score(gold: list[list[str]], pred: list[list[str]]) -> dict:
    """Entity-level micro precision, recall, F1 overall and per type (seqeval's conlleval mode), in %."""
    rep = classification_report(gold, pred, output_dict=True, zero_division=0)
    pct = lambda x: round(100 * float(x), 2)
    micro = rep["micro avg"]
    return {"f1": pct(micro["f1-score"]), "precision": pct(micro["precision"]), "recall": pct(micro["recall"]),
            "per_type": {k: {"f1": pct(v["f1-score"]), "precision": pct(v["precision"]), "recall": pct(v["recall"]),
                             "support": int(v["support"])}
                         for k, v in sorted(rep.items()) if k not in ("micro avg", "macro avg", "weighted avg")}}


def evaluate(model: NERModel, examples: list[dict], labels: list[str], batch_size: int = 256) -> dict:
    model.eval()
    gold, pred = [None] * len(examples), [None] * len(examples)
    for idx, batch in batches(examples, batch_size):
        for i, p in zip(idx, model.decode(batch)):
            gold[i] = [labels[t] for t in examples[i]["tags"]]
            pred[i] = [labels[t] for t in p]
    return score(gold, pred)


def build_model(config: dict) -> NERModel:
    return NERModel(NERConfig.from_dict(config["model"]))


def make_config(arch: str, featurizer: Featurizer, labels: list[str], embedding: dict, data: dict | None = None,
                name: str | None = None, **model) -> dict:
    """The checkpoint's config.json (before training adds metrics and the recipe). embedding: EmbeddingConfig
    fields (char_filters=0: no character CNN); model: NERConfig fields (hidden_size, dropout, crf, ...)."""
    n_chars = len(featurizer.chars) if embedding.get("char_filters", 1) > 0 else 0
    emb = EmbeddingConfig(vocab_size=len(featurizer.word_ids), n_chars=n_chars, **embedding)
    return {"task": TASK, "name": name or f"{TASK}-{arch}", "arch": arch,
            "model": asdict(NERConfig(arch=arch, num_tags=len(labels), embedding=emb, **model)),
            "labels": list(labels), "chars": featurizer.chars, "metric": "f1", "data": data or {}}


class Predictor:
    """A loaded NER checkpoint. predict("EU rejects German call ...") -> tokens with tags, entity spans.

    The text predictors' one interface (NER and sentiment alike): words(text), encode(text) -> (words, batch),
    predict(text, scores=...); zoo.probe and the app use only these."""

    task = TASK

    def __init__(self, model: NERModel, config: dict, files: dict[str, str]):
        self.model, self.config = model.eval(), config
        self.labels = config["labels"]
        self._type_cols = {tag[2:]: [k for k, t in enumerate(self.labels) if t[2:] == tag[2:]]  # entity type ->
                           for tag in self.labels if tag != "O"}  # its tags' columns (B-, I-), for the scores
        self.featurize = Featurizer(Tokenizer.from_str(files["tokenizer.json"]), config["chars"])

    def tokens(self, text_or_tokens) -> list[tuple[str, int, int]]:
        """The words the model reads, with character offsets: [(word, start, end)]. Text is split the
        CoNLL way (tasks.text.tokenize, conll=True); a list of words is taken one word per token (stripped), offsets into
        " ".join(words), so tags line up with the caller's tokens: a token without a visible character is a
        ValueError naming it, not dropped (dropping it shifted every later tag against the caller's list)."""
        if isinstance(text_or_tokens, str):
            toks = tokenize(text_or_tokens, conll=True)
        elif isinstance(text_or_tokens, (list, tuple)) and all(isinstance(t, str) for t in text_or_tokens):
            if len(text_or_tokens) > MAX_TOKENS:
                raise ValueError(f"{len(text_or_tokens):,} tokens; the limit is {MAX_TOKENS:,}")
            joined = " ".join(text_or_tokens)
            if len(joined) > MAX_CHARS:  # as for one text: the limit is on the characters read
                raise ValueError(f"the tokens are {len(joined):,} characters joined; the limit is {MAX_CHARS:,}")
            if (joined and joined.isprintable() and "  " not in joined
                    and joined[:1] != " " and joined[-1:] != " "):
                # the common case, checked in C: every token printable, not empty, no space at either end, so
                # the loop below would keep each as it is
                starts = accumulate((len(t) + 1 for t in text_or_tokens), initial=0)
                toks = [(t, a, a + len(t)) for t, a in zip(text_or_tokens, starts)]
            else:
                toks, start = [], 0
                for i, raw in enumerate(text_or_tokens):  # offsets into " ".join(tokens)
                    tok = check_text(raw)  # the same length: control characters become spaces
                    word = tok.strip()
                    if not word:
                        raise ValueError(f"token {i} ({raw!r}) has no visible character; a token list is one "
                                         "word per token")
                    lead = len(tok) - len(tok.lstrip())
                    toks.append((word, start + lead, start + lead + len(word)))
                    start += len(raw) + 1
        elif isinstance(text_or_tokens, (list, tuple)):  # a list with something else than a string in it
            i, bad = next((i, t) for i, t in enumerate(text_or_tokens) if not isinstance(t, str))
            raise TypeError(f"a token list holds strings; token {i} is {type(bad).__name__} ({bad!r:.40})")
        else:
            raise TypeError(f"expected text (str) or a list of token strings, got {type(text_or_tokens).__name__}")
        if len(toks) > MAX_TOKENS:
            raise ValueError(f"{len(toks):,} tokens; the limit is {MAX_TOKENS:,}")
        return toks

    def words(self, text_or_tokens) -> list[str]:
        return [t for t, _, _ in self.tokens(text_or_tokens)]

    def encode(self, text_or_tokens) -> tuple[list[str], dict]:
        """-> (the words the model reads, a batch of one). ValueError when there are no words."""
        words = self.words(text_or_tokens)
        if not words:
            raise ValueError("the text has no words")
        return words, collate([self.featurize(words)])

    def predict(self, text_or_tokens, scores: bool = False) -> dict:
        """-> {"tokens": [{"text", "tag", "start", "end"}], "entities": [{"text", "type", "start", "end"}]}.
        scores=True adds each token's "scores" ({tag: probability}, a softmax of its emission scores: how sure
        the tagger is of each word on its own; the CRF then picks the sequence) and each entity's "score"
        (the mean over its words of the probability of the entity's type, B- and I- together: how sure the
        tagger is that these words are that kind of entity, whichever of the two the CRF picked for a word).
        The same answer as predict_batch([text_or_tokens]) gives, without its bookkeeping for many inputs (one
        sentence at a time is where that shows), and on an exported network without torch tensors around it."""
        toks = self.tokens(text_or_tokens)
        if not toks:
            return {"tokens": [], "entities": []}
        example = self.featurize([w for w, _, _ in toks])
        if isinstance(self.model.forward, OrtForward):  # an exported network: the sentence stays in NumPy
            em = self.model.forward.arrays(arrays([example]))[0]  # (T, K)
            ids = self.model.crf.decode_one(em) if self.model.crf is not None else em.argmax(-1).tolist()
            return self._result(text_or_tokens, toks, ids, torch.from_numpy(em) if scores else None, scores)
        ids, em = self.model.tag(collate([example]))
        return self._result(text_or_tokens, toks, ids[0], em[0] if scores else None, scores)

    def predict_batch(self, inputs: list, batch_size: int = 64, scores: bool = False, errors: str = "raise") -> list[dict]:
        """predict for many texts (or token lists): one padded pass per batch of similar length, answers in
        input order, the same tags as predict on each (in int8, whose activations are quantized per call, a tag can
        move with its batch). A bad input is an error naming its index, or with
        errors="record" an {"error": message} in its place (python -m zoo predict goes on with the rest)."""
        inputs = batch_inputs(inputs, batch_size, errors)
        live, prepared, results = prepare_each(inputs, self.tokens, errors)
        toks = dict(zip(live, prepared))
        for i in live:
            results[i] = {"tokens": [], "entities": []}  # an input without words; the others are tagged below
        worded = [i for i in live if toks[i]]
        examples = [self.featurize([w for w, _, _ in toks[i]]) for i in worded]
        for idx, batch in batches(examples, batch_size):
            ids, em = self.model.tag(batch)
            for j, tag_ids, rows in zip(idx, ids, em):
                i = worded[j]
                results[i] = self._result(inputs[i], toks[i], tag_ids, rows[:len(tag_ids)] if scores else None, scores)
        return results

    def tags_by_prefix(self, text_or_tokens) -> tuple[list[str], list[list[str]]]:
        """Reveal the sentence one word at a time: -> (words, rows), row k the tags of the first k + 1 words,
        predicted with nothing after them. A left-to-right tagger's tag for a word cannot change once the
        word is read (but for the CRF's choice of the whole sequence); a BiLSTM's can, as later words arrive.
        The last row is predict's answer for the whole sentence. Its work grows with the square of the length,
        so up to MAX_PREFIX_WORDS words (a ValueError beyond)."""
        words = self.words(text_or_tokens)
        if len(words) > MAX_PREFIX_WORDS:
            raise ValueError(f"{len(words):,} words; tags_by_prefix takes up to {MAX_PREFIX_WORDS} "
                             "(a row per word, each as long as its prefix)")
        rows = self.predict_batch([words[:k] for k in range(1, len(words) + 1)])
        return words, [[t["tag"] for t in r["tokens"]] for r in rows]

    def _result(self, text_or_tokens, toks, ids: list[int], emissions: torch.Tensor | None, scores: bool) -> dict:
        tags = [self.labels[i] for i in ids]
        spans = entity_spans(tags)
        # the string the offsets point into: the text, or the caller's tokens joined by spaces (tokens())
        text = text_or_tokens if isinstance(text_or_tokens, str) or not spans else " ".join(text_or_tokens)
        tokens = [{"text": w, "tag": tag, "start": s, "end": e} for (w, s, e), tag in zip(toks, tags)]
        entities = [{"text": text[toks[a][1]:toks[b - 1][2]], "type": kind, "start": toks[a][1], "end": toks[b - 1][2]}
                    for kind, a, b in spans]
        if scores:
            probs = emissions.softmax(-1).tolist()  # (T, K)
            for t, p in zip(tokens, probs):
                t["scores"] = dict(zip(self.labels, p))
            for e, (kind, a, b) in zip(entities, spans):  # B- or I- of its type, whichever the CRF chose
                e["score"] = sum(probs[t][k] for t in range(a, b) for k in self._type_cols[kind]) / (b - a)
        return {"tokens": tokens, "entities": entities}

    def evaluate(self, split) -> dict:
        """Metrics on a datasets split with the same label names as this checkpoint."""
        if not {"tokens", "ner_tags"} <= set(split.column_names):  # another task's data: one line, not a KeyError
            raise ValueError(f"the split has no tokens and ner_tags columns (it has: {', '.join(split.column_names)}); "
                             "a tagger is scored on CoNLL-style data")
        names = tag_names(split)  # ValueError, as training says it
        problem = row_problem(split, len(names))
        if problem:
            raise ValueError(problem)
        if names != self.labels:
            raise ValueError(f"the data's tags {names} differ from the checkpoint's {self.labels}")
        examples = encode_split(split, self.featurize)
        if not any(e["tags"] for e in examples):
            raise ValueError("the split has no sentences with words to score")
        return evaluate(self.model, examples, self.labels)
