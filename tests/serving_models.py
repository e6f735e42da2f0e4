"""Tiny checkpoints for the serving tests: the text models of tests/app_models.py and a caption model with a
few thousand weights, in the real checkpoint format, plus small images to caption."""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from tasks import caption
from zoo import checkpoint

from app_models import write_models  # noqa: F401  (re-exported: one import for the serving tests)


def write_caption_model(folder: Path, arch: str = "lstm") -> Path:
    """A caption checkpoint (untrained, 8-d word vectors, 16 hidden units) whose vocabulary is a few words."""
    torch.manual_seed(0)
    vocab = caption.Vocab.fit(["a dog runs on grass in the park", "a man rides a red bike"] * 2, min_word_freq=1)
    config = caption.make_config(arch, vocab, data={"path": "tests/sample"}, embed_dim=8, hidden_size=16, dropout=0.0)
    config["decode"] = {"beam": 2, "max_len": 8, "alpha": 0.0}
    checkpoint.save(folder, caption.build_model(config), config, files={"tokenizer.json": vocab.tokenizer.to_str()})
    return folder


def write_images(folder: Path, n: int = 3) -> list[Path]:
    """n small RGB images of different colours and sizes."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"img{i}.png"
        Image.new("RGB", (24 + 8 * i, 16 + 4 * i), (40 * i, 200 - 50 * i, 90)).save(path)
        paths.append(path)
    return paths
