"""Caption scoring the way the COCO caption evaluation scores it, without its Java tokenizer.

The COCO toolkit (pycocoevalcap) runs Stanford's PTBTokenizer (Java) with lower-casing, then drops the
punctuation tokens '' ' `` ` -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ; before scoring. `ptb_tokenize`
does the same in Python: tasks.text.tokenize splits words as the Penn Treebank does (clitics "'s" and
"n't" apart, hyphenated words whole), then we lower-case and drop the same punctuation (and brackets).
So there is no Java to install; on Flickr8k's plain captions the two tokenizations coincide nearly always
(they can differ on rare symbols such as "&" or unusual quotes), so scores are comparable, not identical
to the decimal, to numbers from the Java pipeline.

BLEU-1..4 (closest reference length), CIDEr (CIDEr-D's scorer as pycocoevalcap ships it) and ROUGE-L are
pycocoevalcap's own pure-Python scorers, against all references of an image, reported in percent.
"""
from __future__ import annotations

from tasks.text import tokenize

# the tokens pycocoevalcap's PTBTokenizer removes after tokenizing, plus the brackets it spells -LRB- etc.
PUNCTUATION = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--", "...",
               ";", "(", ")", "[", "]", "{", "}", '"'}


def ptb_tokenize(text: str) -> list[str]:
    """A caption -> lower-cased PTB tokens without punctuation: "A dog's toy." -> ["a", "dog", "'s", "toy"]."""
    return [t.lower() for t, _, _ in tokenize(text) if t not in PUNCTUATION and t.strip(".-") != ""]


def score(references: list[list[str]], hypotheses: list[str], cider: bool = True, rouge: bool = True) -> dict:
    """references[i]: the reference captions of image i (raw text); hypotheses[i]: one generated caption.
    -> {"bleu1".."bleu4", "cider", "rouge_l"} in percent, rounded to 2 decimals."""
    from pycocoevalcap.bleu.bleu import Bleu

    if len(references) != len(hypotheses) or not hypotheses:
        raise ValueError(f"{len(references)} reference sets for {len(hypotheses)} captions")
    gts = {i: [" ".join(ptb_tokenize(r)) for r in refs] for i, refs in enumerate(references)}
    # an empty hypothesis would make the scorers divide by zero; a lone "a" scores (almost) nothing instead
    res = {i: [" ".join(ptb_tokenize(h)) or "a"] for i, h in enumerate(hypotheses)}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out = {f"bleu{n + 1}": round(100 * b, 2) for n, b in enumerate(bleu)}
    if cider:
        from pycocoevalcap.cider.cider import Cider
        out["cider"] = round(100 * float(Cider().compute_score(gts, res)[0]), 2)
    if rouge:
        from pycocoevalcap.rouge.rouge import Rouge
        out["rouge_l"] = round(100 * float(Rouge().compute_score(gts, res)[0]), 2)
    return out
