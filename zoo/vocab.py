"""Word vocabularies as Hugging Face `tokenizers` WordLevel models, saved as tokenizer.json.

Built from the training split only. Ids 0 and 1 are always <pad> and <unk> (zoo.embedding relies on it).
"""
from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, normalizers, pre_tokenizers
from tokenizers.models import WordLevel
from tokenizers.trainers import WordLevelTrainer

PAD, UNK = "<pad>", "<unk>"


def build_word_tokenizer(texts: Iterable[str], min_frequency: int = 1, lowercase: bool = True,
                         digits_to_zero: bool = False, split_punctuation: bool = True,
                         max_size: int | None = None) -> Tokenizer:
    """Train a word-level tokenizer on training texts.

    Splits raw text on whitespace and punctuation (`Whitespace`), or only on whitespace for corpora that
    come already tokenized (CoNLL keeps "U.S." one token). Lower-cases and maps digits to 0 if asked, so
    that "1996" and "1997" share a vector.
    """
    norms = ([normalizers.Lowercase()] if lowercase else []) + \
            ([normalizers.Replace(Regex(r"\d"), "0")] if digits_to_zero else [])
    tok = Tokenizer(WordLevel(unk_token=UNK))
    tok.normalizer = normalizers.Sequence(norms)
    tok.pre_tokenizer = pre_tokenizers.Whitespace() if split_punctuation else pre_tokenizers.WhitespaceSplit()
    trainer = WordLevelTrainer(min_frequency=min_frequency, special_tokens=[PAD, UNK],
                               **({"vocab_size": max_size} if max_size else {}))
    tok.train_from_iterator(texts, trainer=trainer)
    assert tok.token_to_id(PAD) == 0 and tok.token_to_id(UNK) == 1
    return tok


CACHED_WORD_CHARS = 64  # longer words are looked up each time, never kept: a cache of 200,000 words stays small


class WordIds:
    """Maps already-split words to ids (one id per word, whatever the word contains)."""

    CACHE = 200_000  # words remembered with their id; past that, new words are looked up each time

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.vocab = tokenizer.get_vocab()
        self.normalize = tokenizer.normalizer.normalize_str if tokenizer.normalizer else (lambda s: s)
        self._ids: dict[str, int] = {}  # the normalizer is a call into Rust per word; most words recur

    def __len__(self) -> int:
        return len(self.vocab)

    def lookup(self, word: str) -> int:
        """One word's id through the tokenizer's normalizer, not cached (for callers with a cache of their own).
        Never 0, the padding id: a text's word "<pad>" is an unknown word (1), not padding."""
        return self.vocab.get(self.normalize(word), 1) or 1

    def __call__(self, words: list[str]) -> list[int]:
        ids = self._ids
        out = list(map(ids.get, words))  # the common case, every word seen before, in one C loop
        if None in out:
            for k, w in enumerate(words):
                if out[k] is None:
                    out[k] = i = self.lookup(w)
                    if len(ids) < self.CACHE and len(w) <= CACHED_WORD_CHARS:  # bounded in count and in size
                        ids[w] = i
        return out


def build_char_vocab(words: Iterable[str], min_frequency: int = 2) -> list[str]:
    """Characters seen at least min_frequency times in training words; index 0 pad, 1 unknown."""
    counts: dict[str, int] = {}
    for w in words:
        for ch in w:
            counts[ch] = counts.get(ch, 0) + 1
    return [PAD, UNK] + sorted(ch for ch, n in counts.items() if n >= min_frequency)
