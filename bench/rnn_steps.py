"""The vanilla RNN's steps route (zoo/encoder.py, _rnn_steps) in its two forms, which CPU takes which
(zoo.cpu.rnn_step_form): a step h = tanh(x_t + h W) in place against g = sigmoid(u_t + g 4W), in place and out of
place (a fresh (n, H) each step, as _last_states steps), the same (n, H) x (H, H) multiply-add each way; H = 150
(the sentiment RNN's), 300 steps, by rows n, interleaved round by round, one thread. Then the bundled sentiment
RNN's predict_batch at 64 on SST-2 validation in each form (the encoder's step_form set), and that pass in its
parts (text to ids, batches, the network, the answers) in the form this CPU takes. Prints us per step, ms
per pass and the ratios, and the CPU: torch's tanh and sigmoid kernels differ most between CPUs (tanh is the
faster on AVX-512, the sigmoid form on AVX2). Last, the bundled vanilla RNNs' answers on the steps route against
torch's own kernel (SST-2 and CoNLL-2003 validation, 300 IMDB test reviews, seed 0).

    OMP_NUM_THREADS=1 python bench/rnn_steps.py [--rounds 9]
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import zoo  # noqa: E402
from tasks.sentiment_data import batches  # noqa: E402
from zoo import cpu, data  # noqa: E402
from zoo.batching import prepare_each  # noqa: E402
from peer_common import race  # noqa: E402

DATA = ROOT.parent / "shared" / "datasets"


def tanh_steps(x, w):
    h = x[0].tanh_()
    for o in x[1:].unbind(0):
        h = o.addmm_(h, w).tanh_()


def sigmoid_steps(x, w):
    g = x[0].sigmoid_()
    for o in x[1:].unbind(0):
        g = o.addmm_(g, w).sigmoid_()


def sigmoid_steps_fresh(x, w):  # each step's state out of place, as _last_states steps when no outputs are read
    g = x[0].sigmoid_()
    for o in x[1:].unbind(0):
        g = torch.addmm(o, g, w).sigmoid_()


def in_form(name: str, form: str):
    """A bundled model whose vanilla RNN takes the steps route in `form`."""
    p = zoo.load(name)
    p.model.encoder.step_form = form
    return p


def pass_parts(p, texts: list[str], rounds: int) -> dict[str, float]:
    """predict_batch's pass in its parts, each timed alone (median seconds): the texts to ids, the length-sorted
    batches, the network on them, the answers made from the probabilities."""
    _, examples, _ = prepare_each(texts, lambda text: {"words": p._ids(text)}, "raise")
    done = list(batches(examples, 64))
    probs = [0.5] * len(texts)
    with torch.no_grad():
        return race({"text to ids": lambda: prepare_each(texts, lambda text: {"words": p._ids(text)}, "raise"),
                     "batches": lambda: list(batches(examples, 64)),
                     "network": lambda: [p.model.prob_positive(b).tolist() for _, b in done],
                     "answers": lambda: [p._result(x, True) for x in probs]}, rounds)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=9)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; {cpu.describe()}")
    print("| rows | tanh(z) in place: us per step | sigmoid(2z) in place | speed-up | sigmoid(2z) out of place | "
          "speed-up |\n|---:|---:|---:|---:|---:|---:|")
    H, T = 150, 300
    for n in (1, 16, 64):
        x, w = torch.randn(T, n, H) * 0.5, torch.randn(H, H) * 0.05
        med = race({"tanh": lambda: tanh_steps(x.clone(), w), "sigmoid": lambda: sigmoid_steps(x.clone(), w),
                    "fresh": lambda: sigmoid_steps_fresh(x.clone(), w), "copy": lambda: x.clone()}, args.rounds)
        tanh, sig, fresh = (1e6 * (med[k] - med["copy"]) / (T - 1) for k in ("tanh", "sigmoid", "fresh"))
        print(f"| {n} | {tanh:.1f} | {sig:.1f} | {tanh / sig:.2f}x | {fresh:.1f} | {tanh / fresh:.2f}x |", flush=True)
    y = torch.randn(64, H)
    med = race({"tanh": lambda: [y.tanh_() for _ in range(100)], "sigmoid": lambda: [y.sigmoid_() for _ in range(100)]},
               args.rounds)
    print(f"\nthe nonlinearity alone, in place on (64, {H}): tanh {1e4 * med['tanh']:.1f} us, sigmoid "
          f"{1e4 * med['sigmoid']:.1f} us, {med['tanh'] / med['sigmoid']:.2f}x")
    texts = list(data.load(str(DATA / "sst2"))[0]["validation"]["sentence"])
    tanh, sigmoid = in_form("sentiment-rnn", "tanh"), in_form("sentiment-rnn", "sigmoid")
    a, b = tanh.predict_batch(texts), sigmoid.predict_batch(texts)
    assert [r["positive"] > 0.5 for r in a] == [r["positive"] > 0.5 for r in b]
    gap = max(abs(x["positive"] - y["positive"]) for x, y in zip(a, b))
    med = race({"tanh": lambda: tanh.predict_batch(texts), "sigmoid": lambda: sigmoid.predict_batch(texts)}, args.rounds)
    print(f"\nsentiment-rnn predict_batch at 64, SST-2 validation ({len(texts)} texts): tanh(z) {1e3 * med['tanh']:.1f} ms, "
          f"sigmoid(2z) {1e3 * med['sigmoid']:.1f} ms, {med['tanh'] / med['sigmoid']:.2f}x; the same labels, "
          f"probabilities within {gap:.1e}; this CPU takes the {cpu.rnn_step_form()} form")
    print(f"that pass in parts ({cpu.rnn_step_form()} form): " + ", ".join(
        f"{k} {1e3 * v:.1f} ms" for k, v in pass_parts(in_form("sentiment-rnn", cpu.rnn_step_form()), texts,
                                                          args.rounds).items()))
    print("\nthe steps route against torch's own kernel (the packed route), predict_batch at 64:")
    conll = [list(t) for t in data.load(str(DATA / "conll2003"))[0]["validation"]["tokens"] if t]
    imdb = list(data.load(str(DATA / "imdb"))[0]["test"]["text"])
    cases = {"sentiment-rnn": texts, "imdb-rnn": [imdb[i] for i in random.Random(0).sample(range(len(imdb)), 300)],
             "ner-rnn": conll}
    for name, inputs in cases.items():
        steps, packed = zoo.load(name), zoo.load(name)
        packed.model.encoder._route = lambda batch_size, device: "packed"
        a, b = steps.predict_batch(inputs, scores=True), packed.predict_batch(inputs, scores=True)
        if name.startswith("ner"):
            same = [[t["tag"] for t in r["tokens"]] for r in a] == [[t["tag"] for t in r["tokens"]] for r in b]
            gap = max(abs(p - q) for x, y in zip(a, b) for s, t in zip(x["tokens"], y["tokens"])
                      for p, q in zip(s["scores"].values(), t["scores"].values()))
        else:
            same = [r["positive"] > 0.5 for r in a] == [r["positive"] > 0.5 for r in b]
            gap = max(abs(x["positive"] - y["positive"]) for x, y in zip(a, b))
        print(f"  {name}: {len(inputs):,} inputs, {'the same' if same else 'DIFFERENT'} answers, probabilities "
              f"within {gap:.1e}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
