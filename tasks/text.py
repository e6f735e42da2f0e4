"""Raw text -> tokens with character offsets, split the way CoNLL/Penn Treebank text is split.

Punctuation, brackets, possessives ('s) and clitics (n't) become their own tokens; abbreviations
("U.S."), numbers ("1,000", "3.5") and hyphenated words stay whole. The taggers' split (conll=True) also keeps
whole what the CoNLL-2003 corpus does: "Mr.", "Corp.", an initial "J.", "O'Brien", "--", "+44", "10th".
"""
from __future__ import annotations

import bisect
import re
import unicodedata

MAX_CHARS = 200_000  # longer input is refused with a clear error instead of tying up a worker
MAX_TOKENS = 50_000  # words in one input: more is refused (sentiment: unless the checkpoint reads only max_len)

_ACRONYMS = r"""(?:[^\W\d_]\.){2,}        # abbreviations: U.S. U.N.
"""
_PTB = r"""
    | \d+(?:[.,:/-]\d+)*                    # numbers, times, dates: 1,000 3.5 12:30 1996-08-22
    | \w+(?:-\w+)*(?=n't\b)                 # "do" of "don't"
    | n't\b                                 # the clitic
    | \w+(?:-\w+)*(?='[sS]\b)               # "John" of "John's"
    | '[sS]\b | '(?:re|ve|ll|d|m)\b         # possessive and other clitics
    | \w+(?:-\w+)*                          # words, hyphenated words
    | \S                                    # any other single visible character: punctuation, emoji
"""
# What CoNLL-2003's Reuters text also keeps whole (its taggers read text split this way: 2.0-2.4 points of
# validation F1 on text, where the PTB split cut "J. Adams", "St. Louis", "Corp." and "O'Brien" apart). Not
# for the sentiment models and caption scores, whose vocabularies and references were split the PTB way.
ABBREVIATIONS = ("Mr", "Mrs", "Ms", "Dr", "St", "Jr", "Sr", "Mt", "Ft", "Gov", "Sen", "Rep", "Gen", "Col", "Lt",
                 "Capt", "Prof", "Corp", "Inc", "Ltd", "Co", "Bros", "vs", "Jan", "Feb", "Aug", "Sept", "Sep", "Oct",
                 "Nov", "Dec", "Calif", "Fla", "Mass", "Wash")
_CAPITAL = "A-ZÀ-ÖØ-Þ"
_CONLL = r"""
    | (?<!\w)(?:""" + "|".join(ABBREVIATIONS) + r""")\.(?!\s*$)   # Mr. Corp. Oct. (the text's last full stop is one)
    | (?<![\w.])[""" + _CAPITAL + r"""]\.(?!\w)(?!\s*$)    # an initial: J. Adams (not "Plan B." at the end)
    | (?<!\w)[""" + _CAPITAL + r"""]'[""" + _CAPITAL + r"""]\w*   # O'Brien
    | (?<!\w)[A-Z]{1,3}\$                  # currencies: C$ US$ HK$
    | (?<!\w)[A-Z]+&[A-Z]+\b               # S&P AT&T
    | -{2,} | \.{2,} | \*{2,}              # runs of a mark: -- ... **
    | \+\d+(?:[.,:/-]\d+)*                 # signed numbers: +44 +3.5
    | (?<![\w.])\.\d+                      # .500
    | \d+(?:[.,:/-]\d+)*(?:st|nd|rd|th|s)\b   # ordinals, decades: 10th 61st 1990s
    | \d+(?:[.,:/-]\d+)*(?:-[^\W\d_]+)+    # 10-year 20-year-old
"""
_TOKEN = re.compile(_ACRONYMS + _PTB, re.VERBOSE | re.UNICODE)
_CONLL_TOKEN = re.compile(_ACRONYMS + _CONLL + _PTB, re.VERBOSE | re.UNICODE)


def check_text(text) -> str:
    """The one input check of every text predictor: a str of bounded size, control characters made spaces."""
    if not isinstance(text, str):
        raise TypeError(f"expected text as a str, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ValueError(f"text is {len(text):,} characters; the limit is {MAX_CHARS:,}")
    if text.isprintable():  # the common case, checked in C: no control, format or surrogate character at all
        return text
    # control and format characters (NUL, escapes, zero-width) and lone surrogates (JSON "\ud800", not
    # encodable) carry no words; spaces keep offsets aligned
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Cs") and ch not in "\t\n" else ch for ch in text)


def nfc(text: str) -> str:
    """text in Unicode NFC form (the same object when it is NFC already, the common case, checked in C)."""
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def _nfc(text: str) -> tuple[str, tuple[list[int], list[int]] | None]:
    """-> (text in Unicode NFC form, offsets back: for each NFC index, the index in text where a token starting
    there starts and where one ending there ends; None when text is NFC already).

    "Jose" + U+0301 (NFD, as macOS file names and some keyboards send it) has a combining accent that no
    token pattern reads as part of a word, so it split names into "Jo", "Zu", "Bjo"; NFC makes it one
    character, as in the training data. NFC changes lengths, so offsets are mapped back: both strings
    decompose (NFD) to the same characters, so a boundary in one is a boundary at the same NFD position
    in the other. Where NFC splits one character in two (U+0958, a composition exclusion, is U+0915 U+093C),
    or reorders combining marks ("a" U+0301 U+0323), a boundary can fall inside what the user wrote as one
    cluster (a starter and its combining marks): a start then rounds down to the cluster's start and an end
    up to its end, so each token covers all it came from and no span is empty."""
    normal = nfc(text)
    if normal is text:
        return text, None
    nfd_len = lambda ch: len(unicodedata.normalize("NFD", ch))  # noqa: E731
    decomposed = [unicodedata.normalize("NFD", ch) for ch in text]
    starts, pos = [], 0  # NFD position where each character of text begins
    for d in decomposed:
        starts.append(pos)
        pos += len(d)
    # canonical reordering moves combining marks within a cluster, never across a starter; a character whose
    # decomposition begins with a combining mark (U+0344, U+0F73) continues the cluster before it
    joins = [i > 0 and unicodedata.combining(d[0]) > 0 for i, d in enumerate(decomposed)]
    cluster_start, cluster_end = list(range(len(text) + 1)), list(range(len(text) + 1))
    for i in range(1, len(text)):
        if joins[i]:
            cluster_start[i] = cluster_start[i - 1]
    for i in range(len(text) - 1, 0, -1):
        if joins[i]:
            cluster_end[i] = cluster_end[i + 1]
    begin, end, pos = [], [], 0
    for ch in normal:
        begin.append(cluster_start[bisect.bisect_right(starts, pos) - 1])  # the cluster this position is in
        end.append(cluster_end[bisect.bisect_left(starts, pos)])  # the next cluster boundary at or after it
        pos += nfd_len(ch)
    begin.append(len(text))
    end.append(len(text))
    return normal, (begin, end)


def tokenize(text: str, conll: bool = False) -> list[tuple[str, int, int]]:
    """Split text into (token, start, end): text[start:end] is the token as the user wrote it, and token its
    NFC form (the same string unless the text was not in NFC). conll: also keep whole what CoNLL-2003 does
    (titles and initials with their period, "O'Brien", "--", "10th": the taggers' split)."""
    text = check_text(text)
    pattern = _CONLL_TOKEN if conll else _TOKEN
    normal, back = _nfc(text)
    if back is None:
        return [(m.group(), m.start(), m.end()) for m in pattern.finditer(text)]
    begin, end = back
    return [(m.group(), begin[m.start()], end[m.end()]) for m in pattern.finditer(normal)]


def chunk_words(chunk: str) -> list[str]:
    """The tokens of one whitespace-free chunk of NFC text. A chunk of letters only, or of one character, is one
    token whatever the pattern (no digit, dot or apostrophe to split at): most words of real text, kept
    without running the pattern at all."""
    return [chunk] if chunk.isalpha() or len(chunk) == 1 else _TOKEN.findall(chunk)


def split_words(text: str) -> list[str]:
    """The tokens of tokenize(text) without their offsets: the same list, found faster.

    No token spans whitespace and no pattern looks past the next character, so the text splits into its
    whitespace-separated chunks first (one C call) and each chunk is tokenized alone (chunk_words)."""
    text = nfc(check_text(text))
    return [w for chunk in text.split() for w in chunk_words(chunk)]
