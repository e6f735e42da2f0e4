"""Flickr8k's captions as the caption task reads them: the vocabulary, the references, encoded splits and
training batches (each caption forwards and backwards, for the BiLSTM's two decoders)."""
from __future__ import annotations

from contextlib import contextmanager

import torch
from tokenizers import Tokenizer

from tasks import image_encoder
from tasks.caption_metrics import ptb_tokenize
from zoo.batching import length_batches, pad
from zoo.data import DataUnavailable
from zoo.vocab import WordIds, build_word_tokenizer

BOS, EOS = "<bos>", "<eos>"
CAPTION_COLUMNS = [f"caption_{i}" for i in range(5)]
MAX_TRAIN_WORDS = 30  # longer training captions (<0.1% of Flickr8k) are cut


class Vocab:
    """Caption words <-> ids: a WordLevel tokenizer.json with <pad> <unk> ... <bos> <eos>."""

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.word_ids = WordIds(tokenizer)
        self.bos, self.eos = tokenizer.token_to_id(BOS), tokenizer.token_to_id(EOS)
        if self.bos is None or self.eos is None:
            raise ValueError("tokenizer.json lacks <bos>/<eos>; it is not a caption vocabulary")
        self.itos = {i: w for w, i in tokenizer.get_vocab().items()}

    @classmethod
    def fit(cls, captions, min_word_freq: int = 5) -> "Vocab":
        # the captions are split the way the metric splits them (caption_metrics.ptb_tokenize), so the model
        # learns exactly the tokens it is scored on; the tokenizer only splits on the spaces we put there
        tok = build_word_tokenizer((" ".join(ptb_tokenize(c)) for c in captions), min_frequency=min_word_freq,
                                   split_punctuation=False)
        tok.add_special_tokens([BOS, EOS])
        return cls(tok)

    def __len__(self) -> int:
        return len(self.word_ids)

    def encode(self, caption: str) -> list[int]:
        return self.word_ids(ptb_tokenize(caption)[:MAX_TRAIN_WORDS])

    def decode(self, ids: list[int]) -> str:
        return " ".join(self.itos[i] for i in ids)


def references(split) -> list[list[str]]:
    cols = [split[c] for c in CAPTION_COLUMNS if c in split.column_names]
    return [[c for c in caps if c] for caps in zip(*cols)]


@contextmanager
def read_as_captions(source: str):
    """Around reading a data set's captions and images: a set without the columns or features this task reads
    is DataUnavailable, one line naming it (exit 2 from a script), not a KeyError's traceback."""
    try:
        yield
    except (ValueError, KeyError) as e:
        raise DataUnavailable(f"{source}: not usable for captions: {e}") from None


def encode_split(split, vocab: Vocab, encoder: str = image_encoder.DEFAULT) -> dict:
    """A datasets split -> {"features": (N, F) tensor, "captions": [(image index, ids)], "references"}."""
    feats = torch.from_numpy(image_encoder.split_features(split, encoder))
    refs = references(split)
    caps = [(i, ids) for i, rs in enumerate(refs) for r in rs if (ids := vocab.encode(r))]
    return {"features": feats, "captions": caps, "references": refs}


def collate(features, items: list[tuple[int, list[int]]], bos: int, eos: int) -> dict:
    return {"features": features[torch.tensor([i for i, _ in items])],
            "forward": pad([[bos, *ids, eos] for _, ids in items]),
            "backward": pad([[bos, *reversed(ids), eos] for _, ids in items])}


def batches(data: dict, batch_size: int, bos: int, eos: int, shuffle=False, seed=0):
    caps = data["captions"]
    for idx in length_batches([len(ids) for _, ids in caps], batch_size, shuffle, seed):
        yield collate(data["features"], [caps[i] for i in idx], bos, eos)
