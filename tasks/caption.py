"""Image captioning (Flickr8k): the one-to-many pattern, one image feature in, a sentence out.

    python train/caption.py --arch lstm --data ../shared/datasets/flickr8k
    python -m zoo evaluate caption-lstm --data ../shared/datasets/flickr8k --split test

Show and Tell style (Vinyals et al. 2015): the image feature, projected, initialises the decoder's state
and the decoder generates words left to right from <bos> to <eos>. The decoders are torch nn.RNN/nn.LSTM
(built by zoo.encoder.RecurrentEncoder), so zoo.cells can trace them. "bilstm" is two LSTM decoders
trained together, one generating left to right and one right to left, whose candidates are rescored by
both (Wang et al. 2016); a BiLSTM cannot generate left to right by itself, since its backward half would
have to read words not generated yet. Output and input word vectors are tied (Press & Wolf 2017), which
halves the vocabulary's share of the weights on a 6,000-image training set.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from torch import nn

from tasks import caption_decode, image_encoder
from tasks.caption_onnx import onnx_attach, onnx_graphs  # noqa: F401  (the ONNX export's graphs: zoo/export.py)
from tasks.caption_data import (BOS, CAPTION_COLUMNS, EOS, MAX_TRAIN_WORDS, Vocab, batches,  # noqa: F401
                                collate, encode_split, read_as_captions, references)  # the task's data
from tasks.caption_scoring import caption_features, choose_decoding, decode_settings, evaluate, on_model  # noqa: F401
from zoo.batching import batch_inputs, pad, prepare_each
from zoo.card import DATASETS
from zoo.embedding import PAD_ID, UNK_ID, Dropout
from zoo.encoder import ARCHS, RecurrentEncoder
from zoo.limits import DECODE_SIZES
from zoo.whole import whole_number

TASK = "caption"
HUB_DATA = DATASETS["flickr8k"]["hub_id"]  # the default --data; zoo.card owns the ids
FILES = ("tokenizer.json",)  # the caption vocabulary
PREDICT_KEYS = None  # python -m zoo predict reads image paths, a folder or a glob, not text
CARD = ("image-to-text", "image captioning", "photo.jpg")  # also a PIL image or a 1280-d feature


@dataclass
class CaptionConfig:
    arch: str
    vocab_size: int
    bos_id: int
    eos_id: int
    feature_dim: int = 1280
    embed_dim: int = 256
    hidden_size: int = 448
    dropout: float = 0.5

    @property
    def directions(self) -> int:
        return 2 if self.arch == "bilstm" else 1


class Decoder(nn.Module):
    """One direction: image embedding -> initial state; word vectors -> next-word scores."""

    def __init__(self, cfg: CaptionConfig):
        super().__init__()
        cell = "rnn" if cfg.arch == "rnn" else "lstm"
        # torch's starting weights, not the zoo's Keras-style ones: with those the caption RNN learned more
        # slowly (training loss 4.97 / 4.51 / 4.26 after epochs 1-3, against 4.68 / 4.28 / 4.05, same seed)
        # and its model reached 14.76 validation BLEU-4 where the bundled one has 16.37 (README, Whole-zoo
        # cost). .encoder.trace: the readable cells
        self.encoder = RecurrentEncoder(cell, cfg.embed_dim, cfg.hidden_size, init="torch")
        self.is_lstm = cell == "lstm"
        self.init = nn.Linear(cfg.embed_dim, cfg.hidden_size * (2 if self.is_lstm else 1))
        self.proj = nn.Linear(cfg.hidden_size, cfg.embed_dim)  # to word-vector space (tied output layer)
        self.bias = nn.Parameter(torch.zeros(cfg.vocab_size))

    @property
    def rnn(self):  # the torch nn.RNN/nn.LSTM; a property, so its weights are saved once, under encoder.rnn
        return self.encoder.rnn

    def start(self, image):
        """image embedding (B, E) -> initial state: h0 (1, B, H), and c0 for an LSTM."""
        s = torch.tanh(self.init(image))[None]
        return tuple(s.chunk(2, dim=-1)) if self.is_lstm else s


class CaptionModel(nn.Module):
    def __init__(self, cfg: CaptionConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=PAD_ID)
        self.image = nn.Linear(cfg.feature_dim, cfg.embed_dim)
        self.decoders = nn.ModuleList(Decoder(cfg) for _ in range(cfg.directions))  # [forward, backward]
        self.dropout = Dropout(cfg.dropout)
        self.banned = [PAD_ID, UNK_ID, cfg.bos_id]

    def _logits(self, d: int, h):
        return self.decoders[d].proj(h) @ self.embed.weight.T + self.decoders[d].bias

    def start(self, d: int, features):
        return self.decoders[d].start(self.dropout(self.image(features)))

    def step(self, d: int, tokens, state):
        """tokens (N,) -> log-probs (N, V) of the next word, new state."""
        out, state = self.decoders[d].rnn(self.embed(tokens)[:, None], state)
        return torch.log_softmax(self._logits(d, out[:, 0]), -1), state

    def forward(self, d: int, features, inputs):
        """Teacher forcing. features (B, F), inputs (B, T) = <bos> w1 .. wn (padded) -> logits (B, T, V).
        Padding is on the right, so the real steps never see it and no packing is needed."""
        out, _ = self.decoders[d].rnn(self.dropout(self.embed(inputs)), self.start(d, features))
        return self._logits(d, self.dropout(out))

    def loss(self, batch):
        """Mean cross-entropy of every next word and <eos>; for the BiLSTM the mean of both directions."""
        losses = []
        for d, key in enumerate(("forward", "backward")[:self.cfg.directions]):
            seq = batch[key]  # (B, T+2): <bos> words <eos> <pad>...
            logits = self(d, batch["features"], seq[:, :-1])
            losses.append(nn.functional.cross_entropy(logits.flatten(0, 1), seq[:, 1:].flatten(), ignore_index=PAD_ID))
        return sum(losses) / len(losses)

    @torch.no_grad()
    def sequence_logprob(self, d: int, features, seqs: list[list[int]]):
        """Summed log-prob of each word sequence (then <eos>) under decoder d. -> (N,)"""
        ids = pad([[self.cfg.bos_id, *s, self.cfg.eos_id] for s in seqs]).to(features.device)
        logp = torch.log_softmax(self(d, features, ids[:, :-1]), -1)
        tgt = ids[:, 1:]
        return logp.gather(2, tgt[..., None])[..., 0].masked_fill(tgt == PAD_ID, 0.0).sum(1)


def build_model(config: dict) -> CaptionModel:
    return CaptionModel(CaptionConfig(**config["model"]))


def make_config(arch: str, vocab: Vocab, encoder: str = image_encoder.DEFAULT, data: dict | None = None,
                name: str | None = None, max_len: int = 20, **model) -> dict:
    """The checkpoint's config.json (before training adds metrics, the recipe and the decoding chosen on
    validation). model: CaptionConfig fields (feature_dim, embed_dim, hidden_size, dropout)."""
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
    cfg = CaptionConfig(arch=arch, vocab_size=len(vocab), bos_id=vocab.bos, eos_id=vocab.eos, **model)
    return {"task": TASK, "name": name or f"{TASK}-{arch}", "arch": arch, "model": asdict(cfg), "encoder": encoder,
            "metric": "bleu4", "data": data or {}, "decode": {"beam": 1, "max_len": max_len, "alpha": 0.0}}


def _whole(value, name: str, most: int) -> int:
    """A decoding setting: a whole number from 1 to most (2.5, NaN, infinity, True and "3" are refused, not rounded)."""
    n = whole_number(value, 1, most)
    if n is None:
        raise ValueError(f"{name} must be a whole number between 1 and {most}, got {value!r}")
    return n


DEFAULT_DECODE = {"beam": 3, "max_len": 20, "alpha": 0.0}  # for a checkpoint that records no decode settings


class Predictor:
    """A loaded caption checkpoint. predict(image | path | 1280-d feature, beam=3) -> captions, best first."""

    task = TASK

    def __init__(self, model: CaptionModel, config: dict, files: dict[str, str]):
        self.model, self.config = model.eval(), config
        self.vocab = Vocab(Tokenizer.from_str(files["tokenizer.json"]))
        self.encoder = config.get("encoder", image_encoder.DEFAULT)
        if not isinstance(self.encoder, str) or self.encoder not in image_encoder.ENCODERS:  # refused at load,
            # not on every image after it (zoo.load names the config)
            raise ValueError(f"unknown image encoder {self.encoder!r}; registered: {', '.join(image_encoder.ENCODERS)}")
        recorded = config.get("decode", {})
        self.decode_cfg = {**DEFAULT_DECODE, **recorded}
        if missing := [k for k in DEFAULT_DECODE if k not in recorded]:  # training records all three
            warnings.warn(f"{config.get('name', 'this caption checkpoint')}: config.json records no decode "
                          f"{', '.join(missing)}; decoding with " + ", ".join(f"{k} {self.decode_cfg[k]}" for k in missing),
                          stacklevel=2)

    def feature(self, x) -> torch.Tensor:
        """An image (PIL, path, bytes) or a feature vector -> a checked (1, F) float tensor."""
        if isinstance(x, (np.ndarray, torch.Tensor, list, tuple)):
            try:
                arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
                if np.iscomplexobj(arr):  # a cast to float would silently drop the imaginary part
                    raise ValueError("got complex values")
                if arr.dtype.kind in "USV":  # numpy would read "1.5" as 1.5: text is not a number here
                    raise ValueError(f"got {arr.dtype.kind == 'U' and 'text' or 'bytes'}")
                if arr.dtype == object and any(isinstance(v, (str, bytes)) for v in arr.reshape(-1).tolist()):
                    raise ValueError("got text among the numbers")
                with np.errstate(over="ignore"):  # a value beyond float32 becomes inf, refused below
                    f = torch.as_tensor(arr.astype(np.float32)).reshape(-1)
            except OverflowError:  # an integer beyond any float (10**400), as numbers parsed from JSON can be
                raise ValueError("a feature vector must be numbers within float range") from None
            except (TypeError, ValueError) as e:
                raise ValueError(f"a feature vector must be numbers (real ones): {e}") from None
            if f.numel() != self.model.cfg.feature_dim:
                image_like = arr.ndim >= 2 and f.numel() > self.model.cfg.feature_dim  # (H, W, 3) pixels, say
                raise ValueError(f"a feature vector has {self.model.cfg.feature_dim} values "
                                 f"({self.encoder}); got {f.numel()}"
                                 + (" in an array of shape " + str(tuple(arr.shape)) + ": for an image, pass a PIL "
                                    "image or its path" if image_like else ""))
        elif isinstance(x, (str, Path, bytes, bytearray, dict)) or hasattr(x, "getpixel"):
            f = image_encoder.encode([x], self.encoder)[0]
        else:
            raise TypeError(f"expected an image, an image path or a feature vector, got {type(x).__name__}")
        if not torch.isfinite(f).all():
            raise ValueError("the feature vector contains NaN or infinite values")
        # finite is not enough: +-3e38 overflows inside the decoder (NaN captions, or an IndexError)
        if f.abs().max() > image_encoder.MAX_FEATURE_ABS:
            raise ValueError(f"the feature vector has values up to {float(f.abs().max()):.3g}; image features "
                             f"are within +-{image_encoder.MAX_FEATURE_ABS:g}")
        return f[None]

    def _settings(self, beam: int | None, max_len: int | None) -> tuple[int, int]:
        """The beam width and length limit to decode with: the checkpoint's unless given; checked."""
        return (_whole(self.decode_cfg["beam"] if beam is None else beam, "beam", DECODE_SIZES["beam"][1]),
                _whole(self.decode_cfg["max_len"] if max_len is None else max_len, "max_len", DECODE_SIZES["max_len"][1]))

    def _captions(self, hyps: list[tuple], beam: int, max_len: int, scores: bool = True) -> list[dict]:
        """The best `beam` of them (a BiLSTM's two decoders propose a beam each, rescored together); one of
        max_len words ran out of room before its <eos> (a finished one has at most max_len - 1): "truncated"."""
        return [{"caption": self.vocab.decode(ids), **({"score": round(s, 4)} if scores else {}),
                 **({"truncated": True} if len(ids) >= max_len else {})} for ids, s in hyps[:beam]]

    @torch.no_grad()
    def predict(self, image_or_path_or_feature, beam: int | None = None, max_len: int | None = None,
                scores: bool = True) -> list[dict]:
        """-> [{"caption": str, "score": float}, ...], at most `beam`, best first ("truncated": true on one cut at
        max_len words); score is the length-normalised log-prob
        (scores=False: the captions alone, as the text predictors' scores flag gives their labels alone)."""
        beam, max_len = self._settings(beam, max_len)
        feature = on_model(self.model, self.feature(image_or_path_or_feature))
        hyps = caption_decode.generate(self.model, feature, beam, max_len,
                                       self.decode_cfg["alpha"])[0]
        return self._captions(hyps, beam, max_len, scores)

    @torch.no_grad()
    def predict_batch(self, inputs: list, batch_size: int = 64, beam: int | None = None, max_len: int | None = None,
                      errors: str = "raise", scores: bool = True) -> list[list[dict]]:
        """predict for many images (or paths, or feature vectors): images are read one at a time (as predict
        reads them, so the features are the same), then decoded `batch_size` at a time, answers in input order
        (the same captions as predict on each; scores within float rounding; in int8 a caption can move with its
        batch, the activations being quantized per call). A bad input is an error naming
        its index, or with errors="record" an {"error": message} in its place."""
        inputs = batch_inputs(inputs, batch_size, errors)
        beam, max_len = self._settings(beam, max_len)
        live, feats, results = prepare_each(inputs, self.feature, errors)
        for start in range(0, len(live), batch_size):
            chunk = live[start:start + batch_size]
            batch = on_model(self.model, torch.cat(feats[start:start + len(chunk)]))
            hyps = caption_decode.generate(self.model, batch, beam, max_len,
                                           self.decode_cfg["alpha"])
            for i, h in zip(chunk, hyps):
                results[i] = self._captions(h, beam, max_len, scores)
        return results

    def evaluate(self, split, beam: int | None = None) -> dict:
        """BLEU-1..4, CIDEr, ROUGE-L (percent) on a datasets split with caption_0..caption_4."""
        if not any(c in split.column_names for c in CAPTION_COLUMNS):
            raise ValueError(f"the data has no reference captions ({', '.join(CAPTION_COLUMNS)})")
        d = self.decode_cfg
        data = encode_split(split, self.vocab, self.encoder)
        bad = next((i for i, refs in enumerate(data["references"]) if not refs), None)
        if bad is not None:  # BLEU's scorer would stop on an assert
            raise ValueError(f"row {bad} has no reference caption (all of {', '.join(CAPTION_COLUMNS)} are empty)")
        return evaluate(self.model, data, self.vocab, d["beam"] if beam is None else beam, d["max_len"], d["alpha"])
