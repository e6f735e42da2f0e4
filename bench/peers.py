"""seqzoo against what a user would pick instead, training and inference, in one process.

    pip install -c <(echo 'torch==2.13.*') -r bench/requirements-peers.txt   # flair, keras, tensorflow-cpu
    OMP_NUM_THREADS=1 python bench/peers.py                      # both tasks: throughput, then serving
    OMP_NUM_THREADS=1 python bench/peers.py --task sst2 --epoch-check  # + one real epoch each, then accuracy
    OMP_NUM_THREADS=1 python bench/peers.py --serving-only --rounds 3  # the bundled models served, batch 1 and 64

NER (CoNLL-2003): seqzoo's NERModel (as train/ner.py builds it: word + casing + char CNN, CRF; and a
"lite" BiLSTM with no CRF and no char CNN, like flair's; it keeps the 8-d casing feature, as seqzoo's
vocabulary is lower-cased while flair's one-hot vocabulary keeps case) against flair's SequenceTagger
(OneHotEmbeddings learned from the corpus, no CRF, no reprojection, same hidden size).
Sentiment (SST-2): seqzoo's SentimentModel against Keras 3 (TensorFlow backend):
Embedding(mask_zero) -> SimpleRNN / LSTM / Bidirectional(LSTM) -> Dense(2).

Every program trains with Adam (the task's learning rate; seqzoo's fused, as its training scripts build it;
flair's torch's default, as flair's trainer builds it, and once more fused, for comparison) and gradient-norm
clip 5 on the same batches (zoo.batching.length_batches, shuffled, seed 1; the bundled configs' batch and
hidden sizes). The garbage collector is frozen before the timed passes, for every program. One warm-up
pass (not timed; it includes Keras's XLA compilation of each batch shape), then --rounds rounds that run the
programs in turn, the order reversed every other round; figures are medians over rounds. A seqzoo step
includes collating the batch from encoded sentences; a flair step includes flair's own embedding lookup and
label conversion; Keras gets ready-made numpy arrays. Seconds per epoch are extrapolated from tokens/s.
Inference: the validation split in batches of 64, no gradients. One torch and one TF thread throughout.
Last, bench/peers_serving.py: the bundled models in fp32, onnxruntime, int8 (and bf16 on a CPU with native bf16)
against the peers at batch 1 and 64, end to end (its docstring says what each side is given).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from tasks import ner, sentiment  # noqa: E402
from zoo import data, training  # noqa: E402
from zoo.batching import length_batches  # noqa: E402

from peer_common import flair_parts, flair_tagger, keras_model, machine_line, race, table  # noqa: E402

torch.set_num_threads(1)
torch.set_num_interop_threads(1)
DATA = ROOT.parent / "shared" / "datasets"


def torch_step(model, opt, loss_fn):
    def step(batch):
        loss = loss_fn(batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    return step


# ---------------------------------------------------------------- NER: seqzoo vs flair
def flair_sentence(Sentence, toks, tags=None):
    s = Sentence(list(toks))
    for kind, a, b in ner.entity_spans(tags or []):
        s[a:b].add_label("ner", kind)
    return s


def bench_ner(args):
    _, Sentence, _, _ = flair_parts()
    ds, _ = data.load(str(DATA / "conll2003"))
    labels = ds["train"].features["ner_tags"].feature.names
    rows = [(t, g) for t, g in zip(ds["train"]["tokens"], ds["train"]["ner_tags"]) if t]
    featurize = ner.Featurizer.fit([t for t, _ in rows], 2)
    train = ner.encode_split(ds["train"], featurize)
    val_rows = [(t, g) for t, g in zip(ds["validation"]["tokens"], ds["validation"]["ner_tags"]) if t]
    val = ner.encode_split(ds["validation"], featurize)
    epoch_tokens = sum(len(t) for t, _ in rows)

    def seqzoo(arch, lite=False):
        emb = dict(word_dim=100, char_filters=0 if lite else 50, casing_dim=8, dropout=0.5, word_dropout=0.05)
        cfg = ner.make_config(arch, featurize, labels, emb, hidden_size=128, dropout=0.5, crf=not lite)
        torch.manual_seed(1)
        return ner.build_model(cfg)

    def flair_tagger_(arch):
        return flair_tagger(arch, rows, labels, hidden_size=128)

    def seqzoo_pass(model, batches):
        opt = training.optimizer(model, 2e-3)  # as train/*.py build it
        step = torch_step(model, opt, model.loss)
        return lambda: [step(ner.collate([train[i] for i in idx])) for idx in batches]

    def flair_pass(tagger, sbatches, fused=False):
        opt = torch.optim.Adam(tagger.parameters(), lr=2e-3, fused=fused)  # default: what flair's trainer builds
        step = torch_step(tagger, opt, lambda b: tagger.forward_loss(b)[0])

        def run():
            for b in sbatches:
                step(b)
                for s in b:
                    s.clear_embeddings()
        return run

    # training throughput
    batches = length_batches([len(e["words"]) for e in train], 32, shuffle=True, seed=1)[:args.batches]
    sents = {i: flair_sentence(Sentence, *[rows[i][0], [labels[x] for x in rows[i][1]]]) for idx in batches for i in idx}
    sbatches = [[sents[i] for i in idx] for idx in batches]
    tokens, n = sum(len(train[i]["words"]) for idx in batches for i in idx), sum(map(len, batches))
    models = {f"seqzoo ner-{a}": seqzoo(a) for a in ("rnn", "lstm", "bilstm")}
    models["seqzoo ner-bilstm lite (no CRF, no char CNN)"] = seqzoo("bilstm", lite=True)
    taggers = {f"flair {a}": flair_tagger_(a) for a in ("rnn", "lstm", "bilstm")}
    for m in [*models.values(), *taggers.values()]:
        m.train()
    programs = {k: seqzoo_pass(m, batches) for k, m in models.items()}
    programs.update({k: flair_pass(t, sbatches) for k, t in taggers.items()})
    programs["flair bilstm, fused Adam"] = flair_pass(flair_tagger_("bilstm").train(), sbatches, fused=True)
    med = race(programs, args.rounds)
    table(f"NER training, CoNLL-2003 train, {len(batches)} batches of 32 ({tokens:,} tokens), hidden 128, "
          f"median of {args.rounds} rounds", med, tokens, n, len(batches), epoch_tokens,
          [("seqzoo ner-rnn", "flair rnn"), ("seqzoo ner-lstm", "flair lstm"), ("seqzoo ner-bilstm", "flair bilstm"),
           ("seqzoo ner-bilstm lite (no CRF, no char CNN)", "flair bilstm"),
           ("seqzoo ner-bilstm lite (no CRF, no char CNN)", "flair bilstm, fused Adam")])

    # inference throughput: validation, batches of 64
    vb = length_batches([len(e["words"]) for e in val], 64)
    vsents = [[Sentence(list(val_rows[i][0])) for i in idx] for idx in vb]
    vtok = sum(len(e["words"]) for e in val)
    for m in [*models.values(), *taggers.values()]:
        m.eval()

    def seqzoo_infer(model):
        return lambda: [model.decode(ner.collate([featurize(val_rows[i][0]) for i in idx])) for idx in vb]

    def flair_infer(tagger):
        return lambda: [tagger.predict(b, mini_batch_size=64) for b in vsents]

    programs = {k: seqzoo_infer(m) for k, m in models.items()}
    programs.update({k: flair_infer(t) for k, t in taggers.items()})
    with torch.no_grad():
        med = race(programs, args.rounds)
    table(f"NER inference, CoNLL-2003 validation ({len(val):,} sentences, {vtok:,} tokens), batch 64, "
          f"median of {args.rounds} rounds (seqzoo: featurize + collate + decode; flair: predict)", med, vtok,
          len(val), len(vb), None, [("seqzoo ner-bilstm", "flair bilstm"),
                                    ("seqzoo ner-bilstm lite (no CRF, no char CNN)", "flair bilstm"),
                                    ("seqzoo ner-lstm", "flair lstm"), ("seqzoo ner-rnn", "flair rnn")])

    if args.epoch_check:  # one real epoch of each BiLSTM, then validation F1
        ep = length_batches([len(e["words"]) for e in train], 32, shuffle=True, seed=1001)[:args.epoch_limit or None]
        allsents = [flair_sentence(Sentence, t, [labels[x] for x in g]) for t, g in rows]
        out = {}
        for name in ("seqzoo ner-bilstm", "seqzoo ner-bilstm lite (no CRF, no char CNN)", "flair bilstm"):
            if name.startswith("seqzoo"):
                m = seqzoo("bilstm", lite="lite" in name).train()
                run = seqzoo_pass(m, ep)
            else:
                m = flair_tagger_("bilstm").train()
                run = flair_pass(m, [[allsents[i] for i in idx] for idx in ep])
            t0 = time.perf_counter()
            run()
            secs = time.perf_counter() - t0
            m.eval()
            if name.startswith("seqzoo"):
                f1 = ner.evaluate(m, val, labels)["f1"]
            else:
                pred = []
                for b in vsents:
                    m.predict(b, mini_batch_size=64)
                for b in vsents:
                    for s in b:
                        tags = ["O"] * len(s)
                        for sp in s.get_spans("ner"):
                            first, last = sp.tokens[0].idx - 1, sp.tokens[-1].idx
                            tags[first:last] = ["B-" + sp.tag] + ["I-" + sp.tag] * (last - first - 1)
                        pred.append(tags)
                gold = [[labels[x] for x in val_rows[i][1]] for idx in vb for i in idx]
                f1 = ner.score(gold, pred)["f1"]
            out[name] = (secs, f1)
        print(f"\nNER, one {'full ' if not args.epoch_limit else ''}epoch ({len(ep)} batches, shuffled, seed 1001, "
              "batch 32, Adam 2e-3, clip 5), measured, then validation F1")
        print("| program | epoch seconds (measured) | validation F1 |\n|---|---:|---:|")
        for k, (s, f1) in out.items():
            print(f"| {k} | {s:,.0f} | {f1:.2f} |")


# ---------------------------------------------------------------- SST-2: seqzoo vs Keras
def bench_sst2(args):
    ds, _ = data.load(str(DATA / "sst2"))
    train_words = [sentiment.words(t) for t in ds["train"]["sentence"]]
    vectorize = sentiment.Vectorizer.fit(train_words, 1, 10_000)
    train = [e for e, ws in zip(sentiment.encode_split(ds["train"], vectorize, train_words), train_words) if ws]
    val = sentiment.encode_split(ds["validation"], vectorize)
    epoch_tokens = sum(len(e["words"]) for e in train)
    drop = {"rnn": 0.3, "lstm": 0.3, "bilstm": 0.5}  # the bundled configs

    def seqzoo(arch):
        torch.manual_seed(1)
        cfg = sentiment.make_config(arch, vectorize, dict(word_dim=100, dropout=drop[arch], word_dropout=0.1),
                                    hidden_size=150, dropout=drop[arch], pool="final")
        return sentiment.build_model(cfg)

    def seqzoo_pass(model, batches):
        opt = training.optimizer(model, 2e-3)  # as train/*.py build it
        step = torch_step(model, opt, model.loss)
        return lambda: [step(sentiment.collate([train[i] for i in idx])) for idx in batches]

    def keras_pass(m, arrays):
        return lambda: [m.train_on_batch(x, y) for x, y in arrays]

    def arrays(examples, batches):
        out = []
        for idx in batches:
            b = sentiment.collate([examples[i] for i in idx])
            out.append((b["words"].numpy().astype(np.int32), b["labels"].numpy()))
        return out

    batches = length_batches([len(e["words"]) for e in train], 64, shuffle=True, seed=1)[:args.batches]
    arr = arrays(train, batches)
    tokens, n = sum(len(train[i]["words"]) for idx in batches for i in idx), sum(map(len, batches))
    models = {f"seqzoo sentiment-{a}": seqzoo(a).train() for a in ("rnn", "lstm", "bilstm")}
    kms = {f"keras {a}": keras_model(a, len(vectorize.word_ids), drop[a]) for a in ("rnn", "lstm", "bilstm")}
    programs = {k: seqzoo_pass(m, batches) for k, m in models.items()}
    programs.update({k: keras_pass(m, arr) for k, m in kms.items()})
    med = race(programs, args.rounds)
    table(f"SST-2 training, {len(batches)} batches of 64 ({tokens:,} tokens), hidden 150, median of {args.rounds} rounds",
          med, tokens, n, len(batches), epoch_tokens, [(f"seqzoo sentiment-{a}", f"keras {a}") for a in ("rnn", "lstm", "bilstm")])

    vb = length_batches([len(e["words"]) for e in val], 64)
    varr = arrays(val, vb)
    vtok = sum(len(e["words"]) for e in val)
    for m in models.values():
        m.eval()

    def seqzoo_infer(model):
        return lambda: [model.prob_positive(sentiment.collate([val[i] for i in idx])) for idx in vb]

    def keras_infer(m):
        return lambda: [m.predict_on_batch(x) for x, _ in varr]

    programs = {k: seqzoo_infer(m) for k, m in models.items()}
    programs.update({k: keras_infer(m) for k, m in kms.items()})
    med = race(programs, args.rounds)
    table(f"SST-2 inference, validation ({len(val)} sentences, {vtok:,} tokens), batch 64, median of {args.rounds} rounds",
          med, vtok, len(val), len(vb), None, [(f"seqzoo sentiment-{a}", f"keras {a}") for a in ("rnn", "lstm", "bilstm")])

    if args.epoch_check:  # one real epoch of each BiLSTM, then validation accuracy
        ep = length_batches([len(e["words"]) for e in train], 64, shuffle=True, seed=1001)[:args.epoch_limit or None]
        out = {}
        m = seqzoo("bilstm").train()
        t0 = time.perf_counter()
        seqzoo_pass(m, ep)()
        out["seqzoo sentiment-bilstm"] = (time.perf_counter() - t0, sentiment.evaluate(m, val)["accuracy"])
        km = keras_model("bilstm", len(vectorize.word_ids), drop["bilstm"])
        earr = arrays(train, ep)
        t0 = time.perf_counter()
        keras_pass(km, earr)()
        secs = time.perf_counter() - t0
        pred = np.concatenate([km.predict_on_batch(x).argmax(-1) for x, _ in varr])
        gold = np.concatenate([y for _, y in varr])
        out["keras bilstm"] = (secs, round(100 * float((pred == gold).mean()), 2))
        print(f"\nSST-2, one {'full ' if not args.epoch_limit else ''}epoch ({len(ep)} batches, shuffled, seed 1001, "
              "batch 64, Adam 2e-3, clip 5), measured, then validation accuracy "
              "(Keras's epoch time includes compiling each new batch shape)")
        print("| program | epoch seconds (measured) | validation accuracy |\n|---|---:|---:|")
        for k, (s, acc) in out.items():
            print(f"| {k} | {s:,.0f} | {acc:.2f} |")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", choices=("ner", "sst2", "both"), default="both")
    p.add_argument("--batches", type=int, default=40, help="training batches per pass")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epoch-check", action="store_true", help="also train each BiLSTM one full epoch and score validation")
    p.add_argument("--epoch-limit", type=int, default=0, help="cut the --epoch-check epoch to N batches (smoke runs)")
    p.add_argument("--serving-only", action="store_true", help="only the serving comparison (bench/peers_serving.py)")
    p.add_argument("--batch1", type=int, default=300, help="serving: inputs predicted one at a time")
    args = p.parse_args()
    print(machine_line(torch))
    if not args.serving_only:
        if args.task in ("ner", "both"):
            bench_ner(args)
        if args.task in ("sst2", "both"):
            bench_sst2(args)
    from peers_serving import bench_serving  # after the tables above: it loads the bundled models and exports
    bench_serving(args)


if __name__ == "__main__":
    main()
