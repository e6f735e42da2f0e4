"""One sentence at a time on an exported tagger: predict keeping the sentence in NumPy (tasks.ner_data.arrays,
OrtForward.arrays, CRF.decode_one) against the torch-tensor route every runtime shares (collate, the model's
tag, the CRF's decode), for the bundled taggers in onnxruntime fp32 and int8, on 300 CoNLL-2003 validation
sentences (seed 0), the two interleaved round by round, one thread. Prints us per sentence, the ratio and the
CPU; asserts the same answers.

    OMP_NUM_THREADS=1 python bench/ner_one.py [--rounds 9]
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import zoo  # noqa: E402
from tasks.ner_data import collate  # noqa: E402
from zoo import cpu, data  # noqa: E402
from zoo.encoder import ARCHS  # noqa: E402
from zoo.export import to_onnx  # noqa: E402
from peer_common import race  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets"


def tensor_predict(p, words):
    """Predictor.predict by way of torch tensors, as it ran before the NumPy route."""
    toks = p.tokens(words)
    ids, _ = p.model.tag(collate([p.featurize([w for w, _, _ in toks])]))
    return p._result(words, toks, ids[0], None, False)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; {cpu.describe()}")
    texts = [list(t) for t in data.load(str(DATA / "conll2003"))[0]["validation"]["tokens"] if t]
    sample = [texts[i] for i in random.Random(0).sample(range(len(texts)), 300)]
    print("| model | runtime | tensors: us per sentence | NumPy: us per sentence | speed-up |\n|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for arch in ARCHS:
            name = f"ner-{arch}"
            for runtime in ("onnxruntime", "int8"):
                p = (zoo.load(to_onnx(zoo.load(name), Path(tmp) / name)) if runtime == "onnxruntime"
                     else zoo.load(name, precision="int8"))
                assert [p.predict(s) for s in sample] == [tensor_predict(p, s) for s in sample]
                med = race({"tensors": lambda: [tensor_predict(p, s) for s in sample],
                            "numpy": lambda: [p.predict(s) for s in sample]}, args.rounds)
                t, n = (1e6 * med[k] / len(sample) for k in ("tensors", "numpy"))
                print(f"| {name} | {runtime} | {t:.0f} | {n:.0f} | {t / n:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
