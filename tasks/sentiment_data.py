"""SST-2 and IMDB as the sentiment task reads them: words (Penn Treebank-style, IMDB's <br /> removed),
the vocabulary, labels, the held-out validation split, checks of the data, encoded splits and batches."""
from __future__ import annotations

import re

import numpy as np
import torch
from tokenizers import Tokenizer

from tasks.text import check_text, chunk_words, nfc, split_words
from zoo.batching import batched, pad
from zoo.data import DataUnavailable, require
from zoo.embedding import UNK_ID
from zoo.vocab import CACHED_WORD_CHARS, WordIds, build_word_tokenizer

_HTML_BREAK = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)  # IMDB reviews carry <br /><br /> paragraph marks


def _readable(text: str) -> str:
    """text checked (tasks.text.check_text), IMDB's <br /> marks made spaces: what words and Vectorizer.ids split."""
    text = check_text(text)
    return _HTML_BREAK.sub(" ", text) if "<" in text else text


def words(text: str, max_len: int = 0) -> list[str]:
    """Raw or pre-tokenized text -> its words (first max_len of them when max_len > 0)."""
    toks = split_words(_readable(text))
    return toks[:max_len] if max_len else toks


def text_column(split) -> str:
    return "sentence" if "sentence" in split.column_names else "text"  # SST-2 vs IMDB


def _can_hold_out(ds, size: int, where: str = "the data") -> None:
    rows = ds["train"].num_rows
    if not 2 <= size <= rows - 2:
        raise DataUnavailable(f"{where}: no validation split, and {size:,} validation texts cannot be held out of "
                              f"{rows:,} training texts; lower --val-size or add a validation split")


def held_out_validation(ds, size: int = 2500):
    """The validation split, or for data without one (IMDB) `size` texts of train held out: stratified by
    label, always the same ones (seed 0). Changes ds in place; -> a note for the checkpoint's data record,
    or None when the data had a validation split."""
    if "validation" in ds:
        return None
    _can_hold_out(ds, size)
    held = ds["train"].train_test_split(test_size=size, seed=0, stratify_by_column="label")
    ds["train"], ds["validation"] = held["train"], held["test"]
    return f"{size} texts of train (train_test_split seed 0, stratified by label)"


def validation_of(ds, config: dict):
    """The validation split a checkpoint was selected on: the data's own, or the same texts of train its run
    held out (its recorded --val-size, 2,500 unless told), for a script that scores it after training. ds is
    not changed, so checkpoints with different sizes can be scored from one load."""
    if "validation" in ds:
        return ds["validation"]
    size = ((config.get("train") or {}).get("options") or {}).get("val_size") or 2500
    held = {"train": ds["train"]}
    held_out_validation(held, size)
    return held["validation"]


def row_problem(split, hidden_ok: bool) -> str | None:
    """What a score or a run cannot read in a split, said in words (None when it is fine): a label that is no
    whole number, a text column that is not text, a text or label missing, a label other than 0 and 1 (-1,
    hidden, where hidden_ok: SST-2's test split). In Arrow, not row by row in Python."""
    import pyarrow.compute as pc
    feat, column = split.features["label"], text_column(split)
    names = getattr(feat, "names", None)
    if names is None and not str(getattr(feat, "dtype", "")).startswith(("int", "uint")):
        return (f"label column is {feat}; a sentiment model is scored on whole-number labels 0 (negative) and 1 "
                "(positive), or two named classes")
    if names is not None and len(names) != 2:
        return f"labels name {len(names)} classes ({', '.join(names)}); a sentiment model has two"
    text = split.features[column]
    if getattr(text, "dtype", None) not in ("string", "large_string"):  # pandas writes large_string
        return f"{column} column is not text ({text})"
    for col, what in ((column, f"no {column}"), ("label", "no label")):
        values = split.data.column(col)
        if values.null_count:
            return f"row {pc.index(pc.is_null(values), True).as_py()}: {what}"
    labels = pc.cast(split.data.column("label"), "int64")
    outside = pc.or_(pc.less(labels, -1 if hidden_ok else 0), pc.greater(labels, 1))
    if pc.any(outside).as_py():
        row = pc.index(outside, True).as_py()
        return (f"row {row}: label {labels[row].as_py()}; a sentiment model has 0 (negative) and 1 (positive)"
                + (", -1 where the label is hidden" if hidden_ok else ""))
    return None


def check_data(ds, where: str, val_size: int | None = None) -> None:
    """Before a run writes anything: a train split with a text column (sentence or text) and a label that is
    two named classes or 0/1 numbers, and, without a validation split, named classes to carve one off by
    (held_out_validation stratifies on them) and, given val_size, enough training texts to hold that many
    out; DataUnavailable, one line, otherwise."""
    require(ds, where, splits=("train",), columns=("label",), one_of=("sentence", "text"), optional=("validation", "test"))
    for name in (s for s in ("train", "validation", "test") if s in ds):
        problem = row_problem(ds[name], hidden_ok=name == "test")  # SST-2's Hub copy hides its test labels (-1)
        if problem:
            raise DataUnavailable(f"{where}: the {name} split's {problem}")
    if "validation" not in ds and getattr(ds["train"].features["label"], "names", None) is None:
        raise DataUnavailable(f"{where}: no validation split, and plain-number labels cannot be split off by class; "
                              "add a validation split or name the classes (ClassLabel)")
    if "validation" not in ds and val_size is not None:
        _can_hold_out(ds, val_size, where)


def gold_labels(split) -> list[int]:
    """The split's labels as model ids (0 negative, 1 positive); a hidden label (-1) stays -1."""
    feat = split.features["label"]
    names = getattr(feat, "names", None)
    if names is None:  # plain integer labels: 0/1 as in SST-2 and IMDB
        return list(split["label"])
    if len(names) != 2:
        raise ValueError(f"expected two sentiment classes, the data has {names}")
    pos = 1 if names[1].lower().startswith("pos") else 0
    return [-1 if y < 0 else int(y == pos) for y in split["label"]]


class Vectorizer:
    """Text -> word ids. The vocabulary is a HF `tokenizers` WordLevel model (tokenizer.json)."""

    CHUNKS = 200_000  # whitespace chunks remembered with their ids; past that, new ones are split each time

    def __init__(self, tokenizer: Tokenizer, max_len: int = 0):
        self.tokenizer, self.max_len = tokenizer, max_len
        self.word_ids = WordIds(tokenizer)
        self._chunk_id: dict[str, int] = {}  # a chunk that is one word ("movie") -> its id
        self._chunk_ids: dict[str, list[int]] = {}  # a chunk of several ("movie.", "don't") -> theirs

    def ids(self, text: str) -> list[int]:
        """word_ids(words(text, max_len)), found a whitespace chunk at a time: each distinct chunk is split
        and looked up once, so a text costs a split and one dict lookup per chunk: 2.3x on SST-2 validation,
        2.0x on IMDB reviews (python bench/text_ids.py), where it was a fourth of the vanilla RNN's batch-64
        pass."""
        chunks = nfc(_readable(text)).split()
        out = list(map(self._chunk_id.get, chunks))  # the common case, every chunk one known word, in one C loop
        if None in out:
            out = self._chunks_ids(chunks, out)
        return out[:self.max_len] if self.max_len else out

    def _chunks_ids(self, chunks: list[str], known: list) -> list[int]:
        out: list[int] = []
        for chunk, i in zip(chunks, known):
            if i is not None:
                out.append(i)
                continue
            ids = self._chunk_ids.get(chunk)
            if ids is None:
                ids = self.word_ids(chunk_words(chunk))
                if len(self._chunk_id) + len(self._chunk_ids) < self.CHUNKS and len(chunk) <= CACHED_WORD_CHARS:
                    if len(ids) == 1:
                        self._chunk_id[chunk] = ids[0]
                    else:
                        self._chunk_ids[chunk] = ids
            out += ids
        return out

    @classmethod
    def fit(cls, texts: list[list[str]], min_freq: int = 1, max_size: int | None = None, max_len: int = 0):
        """Train the vocabulary on training texts given as word lists (already cut to max_len)."""
        tok = build_word_tokenizer((" ".join(w) for w in texts), min_frequency=min_freq, lowercase=True,
                                   split_punctuation=False, max_size=max_size)
        return cls(tok, max_len)


def encode_split(split, vectorize: Vectorizer, texts: list[list[str]] | None = None) -> list[dict]:
    """A datasets split -> [{"words": ids, "label": 0/1/-1}]. A text without words reads as one <unk>,
    so every example is scored (SST-2 has none; the rule only keeps evaluation total)."""
    if texts is None:
        texts = [words(t, vectorize.max_len) for t in split[text_column(split)]]
    return [{"words": vectorize.word_ids(ws) or [UNK_ID], "label": y} for ws, y in zip(texts, gold_labels(split))]


def collate(examples: list[dict]) -> dict:
    """-> words (B, T), lengths (B,), and labels (B,) where the examples have them (not at inference)."""
    words = [e["words"] for e in examples]
    batch = {"words": pad(words), "lengths": torch.from_numpy(np.fromiter(map(len, words), np.int64, len(words)))}
    if "label" in examples[0]:
        batch["labels"] = torch.tensor([e.get("label", -1) for e in examples])
    return batch


def batches(examples: list[dict], batch_size: int, shuffle=False, seed=0):
    return batched(examples, collate, batch_size, shuffle, seed)
