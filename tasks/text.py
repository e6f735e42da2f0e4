"""Raw text -> tokens with character offsets, split the way CoNLL/Penn Treebank text is split.

Punctuation, brackets, possessives ('s) and clitics (n't) become their own tokens; abbreviations
("U.S."), numbers ("1,000", "3.5") and hyphenated words stay whole, as in the CoNLL-2003 corpus.
"""
from __future__ import annotations

import re
import unicodedata

MAX_CHARS = 200_000  # longer input is refused with a clear error instead of tying up a worker

_TOKEN = re.compile(r"""
      (?:[^\W\d_]\.){2,}                    # abbreviations: U.S. U.N.
    | \d+(?:[.,:/-]\d+)*                    # numbers, times, dates: 1,000 3.5 12:30 1996-08-22
    | \w+(?:-\w+)*(?=n't\b)                 # "do" of "don't"
    | n't\b                                 # the clitic
    | \w+(?:-\w+)*(?='[sS]\b)               # "John" of "John's"
    | '[sS]\b | '(?:re|ve|ll|d|m)\b         # possessive and other clitics
    | \w+(?:-\w+)*                          # words, hyphenated words
    | \S                                    # any other single visible character: punctuation, emoji
""", re.VERBOSE | re.UNICODE)


def check_text(text) -> str:
    """The one input check of every text predictor: a str of bounded size, control characters made spaces."""
    if not isinstance(text, str):
        raise TypeError(f"expected text as a str, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ValueError(f"text is {len(text):,} characters; the limit is {MAX_CHARS:,}")
    # control and format characters (NUL, escapes, zero-width) and lone surrogates (JSON "\ud800", not
    # encodable) carry no words; spaces keep offsets aligned
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs") and ch not in "\t\n" else ch for ch in text)


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """Split text into (token, start, end) with text[start:end] == token."""
    text = check_text(text)
    return [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
