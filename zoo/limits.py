"""Bounds on what a checkpoint may claim, and checks of its parts against each other, before anything is built.

Checkpoints from the Hub are third-party files, and config.json and tokenizer.json are recipes for
allocation and compute: 20,000 layers took 53 s to build before any other check, a tokenizer normalizer
regex such as (a|aa)+$ made a prediction panic or run for minutes, a label list shorter than the head
failed only at the first prediction. zoo.load runs, in order: check_config (sizes and types, from the JSON
alone), check_tokenizer (the kinds of normalizer and pre-tokenizer seqzoo itself writes, zoo/vocab.py),
check_parts (parameter count, labels against the head, vocabulary ids against the embedding rows, special
ids in range; on the model built on the meta device). Every failure is a CheckpointError naming the file.
"""
from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

from torch import nn

from .checkpoint import CONFIG, EXPORT_PRECISIONS, TOKENIZER, WEIGHTS, CheckpointError
from .whole import whole_number

MAX_PARAMS = 20_000_000  # 80 MB as float32; the bundled models have at most 2.6 million
SIZES = {  # a key anywhere under config["model"] -> (lowest, highest) whole number allowed
    "num_layers": (1, 8), "hidden_size": (1, 4096), "vocab_size": (2, 1_000_000), "word_dim": (1, 4096),
    "embed_dim": (1, 4096), "feature_dim": (1, 16_384), "n_chars": (0, 100_000), "char_dim": (1, 1024),
    "char_filters": (0, 4096), "char_width": (1, 15), "casing_dim": (0, 1024), "num_tags": (1, 10_000),
}
TOP_SIZES = {"max_len": (0, 100_000)}  # sentiment: the words read (0: all)
DECODE_SIZES = {"beam": (1, 20), "max_len": (1, 100)}  # the caption predictor's own limits on these
DECODE_ALPHA = (0, 10)  # the length normalisation's exponent, a number
SPECIAL_IDS = ("bos_id", "eos_id")  # token ids a config names: must be rows of the embedding
# what zoo/vocab.py writes: lower-casing and digits -> 0; whitespace (and punctuation) splitting; a word-level model
NORMALIZERS = ({"type": "Lowercase"}, {"type": "Replace", "pattern": {"Regex": r"\d"}, "content": "0"})
PRE_TOKENIZERS = ("Whitespace", "WhitespaceSplit")


def _whole(where: str, value, lo: int, hi: int, path: Path) -> int:
    if whole_number(value, -math.inf, None, floats=False) is None:
        raise CheckpointError(f"{path}: {where} must be a whole number, got {value!r}")
    if not lo <= value <= hi:
        raise CheckpointError(f"{path}: {where} is {value:,}; the bound is {lo:,} to {hi:,}")
    return value


def _sizes(model: dict, prefix: str = "model") -> dict[str, tuple[str, object]]:
    """Every SIZES and SPECIAL_IDS key under config["model"], nested dicts included: key -> (where, value)."""
    found = {}
    for k, v in model.items():
        if isinstance(v, dict):
            found.update(_sizes(v, f"{prefix}.{k}"))
        elif k in SIZES or k in SPECIAL_IDS:
            found[k] = (f"{prefix}.{k}", v)
    return found


def check_config(folder: Path, config: dict) -> None:
    """Sizes and types in config.json, before a model is built from it."""
    path = Path(folder) / CONFIG
    model = config.get("model")
    if not isinstance(model, dict):
        raise CheckpointError(f"{path}: 'model' must be a mapping of sizes, got {type(model).__name__}")
    sizes = _sizes(model)
    for key, (where, value) in sizes.items():
        if key in SIZES:
            _whole(where, value, *SIZES[key], path)
    rows = sizes.get("vocab_size", (None, None))[1]
    for key in SPECIAL_IDS:
        if key in sizes:
            _whole(sizes[key][0], sizes[key][1], 0, (rows or 1) - 1, path)
    for key, bound in TOP_SIZES.items():
        if key in config:
            _whole(key, config[key], *bound, path)
    decode = config.get("decode", {})
    if not isinstance(decode, dict):
        raise CheckpointError(f"{path}: 'decode' must be a mapping, got {type(decode).__name__}")
    for key, bound in DECODE_SIZES.items():
        if key in decode:
            _whole(f"decode.{key}", decode[key], *bound, path)
    alpha = decode.get("alpha", 0.0)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not DECODE_ALPHA[0] <= alpha <= DECODE_ALPHA[1]:
        raise CheckpointError(f"{path}: decode.alpha must be a number from {DECODE_ALPHA[0]} to {DECODE_ALPHA[1]}, "
                              f"got {alpha!r}")
    for key in ("name", "arch", "metric"):  # shown by `python -m zoo list` and the model card
        if key in config and not isinstance(config[key], str):
            raise CheckpointError(f"{path}: {key} must be text, got {type(config[key]).__name__}")
    if "parameters" in config:
        _whole("parameters", config["parameters"], 0, 10**12, path)
    onnx = config.get("onnx")
    if onnx is not None and (not isinstance(onnx, dict) or onnx.get("precision", "fp32") not in EXPORT_PRECISIONS):
        raise CheckpointError(f"{path}: its \"onnx\" record must be a mapping whose precision is fp32 or int8")
    metrics = config.get("metrics", {})
    if not isinstance(metrics, dict) or not all(isinstance(m, dict) for m in metrics.values()):
        raise CheckpointError(f"{path}: metrics must map each split to its metrics")
    for key in ("labels", "chars"):
        value = config.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(x, str) for x in value)):
            raise CheckpointError(f"{path}: {key} must be a list of strings")
    labels = config.get("labels")
    if labels is not None and len(set(labels)) != len(labels):
        raise CheckpointError(f"{path}: labels repeat a name")


def check_tokenizer(folder: Path, text: str) -> dict:
    """tokenizer.json limited to what seqzoo writes (zoo/vocab.py): a WordLevel vocabulary, lower-casing and
    the digits rule as normalizers, whitespace splitting; no user-defined regex, post-processor or decoder.
    -> the parsed JSON (for check_parts)."""
    path = Path(folder) / TOKENIZER
    try:
        tok = json.loads(text)
    except ValueError as e:  # not JSON, or a number of over 4,300 digits (Python's own limit)
        raise CheckpointError(f"{path}: not valid JSON ({str(e)[:200]})") from None
    except RecursionError:
        raise CheckpointError(f"{path}: nested too deeply") from None
    if not isinstance(tok, dict):
        raise CheckpointError(f"{path}: not a tokenizers tokenizer.json")
    norm = tok.get("normalizer")
    steps = norm.get("normalizers") if isinstance(norm, dict) and norm.get("type") == "Sequence" else [norm]
    if norm is not None and (not isinstance(steps, list) or any(s not in NORMALIZERS for s in steps)):
        raise CheckpointError(f"{path}: normalizer {json.dumps(norm)[:120]} is not one seqzoo writes "
                              "(Lowercase, Replace \\d -> 0); a crafted regex can hang or crash the tokenizer")
    pre = tok.get("pre_tokenizer")
    if pre is not None and (not isinstance(pre, dict) or pre.get("type") not in PRE_TOKENIZERS or len(pre) != 1):
        raise CheckpointError(f"{path}: pre_tokenizer {json.dumps(pre)[:120]} is not one seqzoo writes "
                              f"({', '.join(PRE_TOKENIZERS)})")
    for key in ("post_processor", "decoder", "truncation", "padding"):
        if tok.get(key) is not None:
            raise CheckpointError(f"{path}: {key} must be null in a seqzoo vocabulary")
    model = tok.get("model")
    if not isinstance(model, dict) or model.get("type") != "WordLevel" or not isinstance(model.get("vocab"), dict) \
            or not isinstance(model.get("unk_token"), str):
        raise CheckpointError(f"{path}: the model must be a WordLevel vocabulary with an unk_token")
    ids = list(model["vocab"].values())
    added = tok.get("added_tokens", [])
    if not isinstance(added, list) or not all(isinstance(a, dict) and isinstance(a.get("content"), str) for a in added):
        raise CheckpointError(f"{path}: added_tokens must be a list of tokens")
    ids += [a.get("id") for a in added]
    if not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids):
        raise CheckpointError(f"{path}: token ids must be whole numbers from 0")
    return tok


def _first(model: dict, key: str):
    return _sizes(model).get(key, (None, None))[1]


def check_parts(folder: Path, config: dict, skeleton: nn.Module, tokenizer: dict | None) -> None:
    """The parts against each other, on the model built on the meta device (nothing allocated)."""
    folder = Path(folder)
    params = sum(math.prod(t.shape) for t in skeleton.state_dict().values())
    if params > MAX_PARAMS:
        raise CheckpointError(f"{folder / WEIGHTS}: {params:,} parameters; the bound is {MAX_PARAMS:,}")
    head = getattr(skeleton, "head", None)
    labels = config.get("labels")
    if labels is not None and isinstance(head, nn.Linear) and len(labels) != head.out_features:
        raise CheckpointError(f"{folder / CONFIG}: {len(labels)} labels for a head of {head.out_features} outputs")
    chars, n_chars = config.get("chars"), _first(config["model"], "n_chars")
    if chars is not None and n_chars and len(chars) > n_chars:
        raise CheckpointError(f"{folder / CONFIG}: {len(chars)} characters for {n_chars} character vectors")
    rows = _first(config["model"], "vocab_size")
    if tokenizer is not None and rows is not None:
        ids = [*tokenizer["model"]["vocab"].values(), *(a["id"] for a in tokenizer.get("added_tokens", []))]
        if ids and max(ids) >= rows:
            raise CheckpointError(f"{folder / TOKENIZER}: token id {max(ids):,} is beyond the {rows:,} rows of "
                                  f"the word embedding ({CONFIG}: vocab_size)")


@contextlib.contextmanager
def panic_guard(folder: Path):
    """A Rust panic inside `tokenizers` (pyo3's PanicException) is a BaseException, so `except Exception` misses
    it and it would end the process's request or start-up: make it a CheckpointError naming the folder."""
    try:
        yield
    except Exception:
        raise
    except BaseException as e:
        if type(e).__name__ != "PanicException":
            raise
        raise CheckpointError(f"{folder / TOKENIZER}: the tokenizer crashed ({str(e)[:200]})") from None
