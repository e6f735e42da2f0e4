"""Serving: seqzoo's bundled models as `zoo.load` runs them (torch fp32, onnxruntime fp32, onnxruntime int8,
and torch bf16 where the CPU multiplies bf16 natively) against flair and Keras at batch 1 and batch 64,
inference only. bench/peers.py runs it after its own tables
(`--serving-only` for this part alone):

    OMP_NUM_THREADS=1 python bench/peers.py --serving-only --rounds 3

What each program does per input, end to end:
- seqzoo: a text or token list in, an answer out (`predict` at batch 1, `predict_batch(inputs, 64)`), featurizing,
  padding, the network and decoding (NER: the character CNN, casing and the CRF's Viterbi) included.
- flair: `SequenceTagger.predict` on `Sentence`s built from the same token lists (built inside the timing, as a
  flair user must), mini_batch_size 1 or 64; same hidden size and word dimension as the bundled taggers, no
  CRF and no characters (flair's own defaults for a one-hot tagger). Its output layer is biased to tag every
  word O, so it builds no entity spans: the cheapest output flair has, in flair's favour.
- Keras: `predict_on_batch` on ready-made int32 id arrays (vectorized, length-sorted and padded beforehand,
  outside the timing, in Keras's favour); same vocabulary, word dimension and hidden size as the bundled
  sentiment models.
The peers are timed untrained (their speed does not depend on their weights' values); their accuracy after
training is in docs/benchmarks.md's epoch check. seqzoo's validation score is computed from the batch-64 answers
of each runtime, so each speed sits beside the accuracy it was measured at.
Inputs: CoNLL-2003 / SST-2 validation (batch 64: all of it; batch 1: a random sample, seed 0). One thread for
torch, onnxruntime and TensorFlow. Figures: inputs/s, medians of alternating rounds (peer_common.race).
"""
from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import zoo  # noqa: E402
from tasks import ner  # noqa: E402
from zoo import cpu, data  # noqa: E402
from zoo.batching import length_batches, pad  # noqa: E402
from zoo.encoder import ARCH_NAMES  # noqa: E402
from zoo.export import to_onnx  # noqa: E402

from peer_common import flair_parts, flair_tagger, keras_model, race  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets"


def runtimes(name: str, tmp: Path) -> dict:
    """The bundled model three or four ways: torch fp32, its ONNX export in onnxruntime, int8 (onnxruntime's
    dynamic quantization, what zoo.load(precision="int8") builds), and bf16 (zoo.load(precision="bf16"))
    only where the CPU has AMX-BF16 or AVX512-BF16 (elsewhere torch emulates it, slower than fp32; zoo.load
    warns there, and also with AVX512-BF16 alone, where it measured slower than fp32: shown all the same)."""
    out = {"fp32": zoo.load(name),
           "onnxruntime": zoo.load(to_onnx(zoo.load(name), tmp / name)),
           "int8": zoo.load(name, precision="int8")}
    if cpu.native_bf16():
        out["bf16"] = zoo.load(name, precision="bf16")
    return out


def seqzoo_programs(name: str, tmp: Path, texts: list, one: list[int], score) -> tuple[dict, dict, dict]:
    """The bundled model `name` in each runtime as timed programs: batch 1 (`predict` on the sampled inputs
    `one`), batch 64 (`predict_batch` on all texts), and each runtime's validation score, score(its batch-64
    answers). -> (batch-1 programs, batch-64 programs, scores), keyed "NAME RUNTIME"."""
    p1, p64, scores = {}, {}, {}
    for runtime, p in runtimes(name, tmp).items():
        prog = f"{name} {runtime}"
        scores[prog] = score(p.predict_batch(texts, batch_size=64))
        p64[prog] = lambda p=p: p.predict_batch(texts, batch_size=64)
        p1[prog] = lambda p=p: [p.predict(texts[i]) for i in one]
    return p1, p64, scores


def report(title: str, per_arch: dict, n1: int, n64: int, scores: dict, metric: str, peer: str) -> None:
    """per_arch: arch -> (batch-1 medians, batch-64 medians), program name -> seconds."""
    print(f"\n{title}")
    print(f"| model | runtime | batch 1 inputs/s | vs {peer} | batch 64 inputs/s | vs {peer} | validation {metric} |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for arch, (m1, m64) in per_arch.items():
        peer_name = f"{peer} {arch}"
        for prog in m1:
            is_peer = prog == peer_name
            r1 = "" if is_peer else f"{m1[peer_name] / m1[prog]:.2f}x"
            r64 = "" if is_peer else f"{m64[peer_name] / m64[prog]:.2f}x"
            score = "untrained (speed only)" if is_peer else f"{scores[prog]:.2f}"
            model, runtime = (peer_name, "") if is_peer else (prog.rsplit(" ", 1)[0], prog.rsplit(" ", 1)[1])
            print(f"| {model} | {runtime} | {n1 / m1[prog]:,.0f} | {r1} | {n64 / m64[prog]:,.0f} | {r64} | {score} |",
                  flush=True)


def ner_serving(args, tmp: Path) -> None:
    _, Sentence, _, _ = flair_parts()
    ds, _ = data.load(str(DATA / "conll2003"))
    labels = ds["train"].features["ner_tags"].feature.names
    rows = [(t, g) for t, g in zip(ds["train"]["tokens"], ds["train"]["ner_tags"]) if t]
    val = [(list(t), [labels[x] for x in g]) for t, g in zip(ds["validation"]["tokens"], ds["validation"]["ner_tags"]) if t]
    texts, gold = [t for t, _ in val], [g for _, g in val]
    one = random.Random(0).sample(range(len(texts)), min(args.batch1, len(texts)))
    per_arch, scores = {}, {}
    for arch in ARCH_NAMES:
        p1, p64, got = seqzoo_programs(f"ner-{arch}", tmp, texts, one, lambda answers: ner.score(
            gold, [[t["tag"] for t in r["tokens"]] for r in answers])["f1"])
        scores.update(got)
        hidden = zoo.load(f"ner-{arch}").config["model"]["hidden_size"]
        tagger = flair_tagger(arch, rows, labels, hidden_size=hidden).eval()
        with torch.no_grad():  # every word O: no spans to build (in flair's favour, see the docstring)
            tagger.linear.bias[tagger.label_dictionary.get_idx_for_item("O")] += 100.0
        p64[f"flair {arch}"] = lambda t=tagger: t.predict([Sentence(list(x)) for x in texts], mini_batch_size=64)
        p1[f"flair {arch}"] = lambda t=tagger: [t.predict(Sentence(list(texts[i])), mini_batch_size=1) for i in one]
        per_arch[arch] = (race(p1, args.rounds), race(p64, args.rounds))
        print(f"  ner-{arch}: done", file=sys.stderr, flush=True)
    report(f"NER serving, CoNLL-2003 validation: batch 1 on {len(one)} sentences, batch 64 on all {len(texts):,}; "
           f"median of {args.rounds} rounds", per_arch, len(one), len(texts), scores, "F1", "flair")


def sst2_serving(args, tmp: Path) -> None:
    ds, _ = data.load(str(DATA / "sst2"))
    texts, gold = list(ds["validation"]["sentence"]), list(ds["validation"]["label"])
    one = random.Random(0).sample(range(len(texts)), min(args.batch1, len(texts)))
    per_arch, scores = {}, {}
    for arch in ARCH_NAMES:
        p1, p64, got = seqzoo_programs(f"sentiment-{arch}", tmp, texts, one, lambda answers: 100 * float(
            np.mean(np.array([int(r["positive"] > 0.5) for r in answers]) == np.array(gold))))
        scores.update(got)
        fp32 = zoo.load(f"sentiment-{arch}")
        cfg = fp32.config["model"]
        km = keras_model(arch, cfg["embedding"]["vocab_size"], cfg["dropout"], cfg["hidden_size"])
        ids = [fp32.encode(t)[1]["words"].numpy().astype(np.int32) for t in texts]  # (1, T) each
        arrays = [pad([ids[i][0].tolist() for i in idx]).numpy().astype(np.int32)  # 0 pads: Keras's mask_zero
                  for idx in length_batches([x.shape[1] for x in ids], 64)]
        p64[f"keras {arch}"] = lambda m=km: [m.predict_on_batch(x) for x in arrays]
        p1[f"keras {arch}"] = lambda m=km: [m.predict_on_batch(ids[i]) for i in one]
        per_arch[arch] = (race(p1, args.rounds), race(p64, args.rounds))
        print(f"  sentiment-{arch}: done", file=sys.stderr, flush=True)
    report(f"SST-2 serving, validation: batch 1 on {len(one)} sentences, batch 64 on all {len(texts):,}; "
           f"median of {args.rounds} rounds", per_arch, len(one), len(texts), scores, "accuracy", "keras")


def bench_serving(args) -> None:
    with tempfile.TemporaryDirectory(prefix="seqzoo-peers-") as tmp:
        if args.task in ("ner", "both"):
            ner_serving(args, Path(tmp))
        if args.task in ("sst2", "both"):
            sst2_serving(args, Path(tmp))
