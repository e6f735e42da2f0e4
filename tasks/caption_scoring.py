"""A caption model decoding a split and scored on it: test scores (evaluate) and the decoding chosen on validation
(choose_decoding: the beam width and length normalisation with the best BLEU-4), for the training scripts and the
predictor's evaluate."""
from __future__ import annotations

import numpy as np
import torch

from tasks import caption_decode
from tasks.caption_data import Vocab
from tasks.caption_metrics import score
from zoo.devices import of


def on_model(model, features: torch.Tensor) -> torch.Tensor:
    """Features are built on the CPU; decoding runs where the model is (decoding allocates on their device)."""
    return features.to(of(model))


def caption_features(model, features, beam: int, max_len: int, alpha: float,
                     batch_size: int = 250) -> list[list[tuple]]:
    out = []
    for i in range(0, len(features), batch_size):
        out += caption_decode.generate(model, on_model(model, features[i:i + batch_size]), beam, max_len, alpha)
    return out


def evaluate(model, data: dict, vocab: Vocab, beam: int = 3, max_len: int = 20, alpha: float = 0.0,
             cider: bool = True) -> dict:
    hyps = caption_features(model, data["features"], beam, max_len, alpha)
    texts = [vocab.decode(h[0][0]) for h in hyps]
    return {**score(data["references"], texts, cider=cider), "beam": beam, "alpha": alpha,
            "mean_length": round(float(np.mean([len(t.split()) for t in texts])), 2), "images": len(texts),
            "examples": [{"caption": t, "references": r[:2]} for t, r in zip(texts[:3], data["references"][:3])]}


def choose_decoding(model, data: dict, vocab: Vocab, beams, alphas, max_len: int = 20,
                    batch_size: int = 250) -> tuple[dict, dict]:
    """The beam width and length normalisation with the best BLEU-4 on `data` (a validation split). Each
    beam width is decoded once; each alpha only re-ranks its candidates. Ties go to the smaller beam, then
    the smaller alpha. -> ({"beam", "alpha"}, {"beam B, alpha A": BLEU-4})"""
    tried = {}
    for beam in beams:
        cands = []
        for i in range(0, len(data["features"]), batch_size):
            batch = on_model(model, data["features"][i:i + batch_size])
            cands += caption_decode.candidates(model, batch, beam, max_len)
        for alpha in alphas:
            texts = [vocab.decode(caption_decode.rank(h, alpha)[0][0]) for h in cands]
            tried[beam, alpha] = score(data["references"], texts, cider=False)["bleu4"]
    beam, alpha = max(tried, key=lambda k: (tried[k], -k[0], -k[1]))
    return {"beam": beam, "alpha": alpha}, {f"beam {b}, alpha {a}": v for (b, a), v in tried.items()}


def decode_settings(model, data: dict, vocab: Vocab, beams: str, alphas: str, max_len: int) -> dict:
    """The training scripts' --beams and --alphas (comma separated) -> the settings choose_decoding picks on
    `data` (validation), with the BLEU-4 of every pair tried, ready for config["decode"]."""
    best, tried = choose_decoding(model, data, vocab, [int(b) for b in beams.split(",") if b.strip()],
                                  [float(a) for a in alphas.split(",") if a.strip()], max_len)
    return {**best, "validation_bleu4": tried}
