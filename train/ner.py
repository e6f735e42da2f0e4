"""Train a named-entity tagger (vanilla RNN, LSTM or BiLSTM) on CoNLL-2003.

    python train/ner.py --arch bilstm --data ../shared/datasets/conll2003
    python train/ner.py --arch lstm --data eriktks/conll2003 --out runs/ner-lstm   # from the Hub
    python train/ner.py --arch rnn --data ../shared/datasets/conll2003 --max-steps 20  # smoke run
    python train/ner.py --arch bilstm --data ../shared/datasets/conll2003 --resume     # after a crash or kill

Selects the epoch with the best validation F1, then scores the test split once and writes a
self-contained checkpoint (config.json, model.safetensors, tokenizer.json) to --out.
"""
from __future__ import annotations

import argparse
import sys

from tasks import ner
from zoo import data, training
from zoo.encoder import ARCHS


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--arch", choices=ARCHS, default="bilstm", help="recurrent layer")
    p.add_argument("--data", default=ner.HUB_DATA, help="Hub id or local folder of the dataset")
    p.add_argument("--out", default=None, help="checkpoint folder (default: runs/ner-ARCH)")
    p.add_argument("--hidden-size", type=int, default=128, help="hidden units per direction")
    p.add_argument("--word-dim", type=int, default=100, help="word embedding size")
    p.add_argument("--char-filters", type=int, default=50, help="character CNN filters (0: no character CNN)")
    p.add_argument("--casing-dim", type=int, default=8, help="casing feature size (0: none)")
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--word-dropout", type=float, default=0.05, help="probability of replacing a training word by <unk>")
    p.add_argument("--min-word-freq", type=int, default=2, help="rarer training words are <unk>")
    p.add_argument("--crf", action=argparse.BooleanOptionalAction, default=True, help="CRF output layer")
    p.add_argument("--dtype", choices=("float16", "float32"), default="float16", help="weights as saved")
    training.add_train_args(p, training.TrainConfig(epochs=40, batch_size=32, lr=2e-3, patience=6))
    return p.parse_args(argv)


@training.script
def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = training.config_from_args(args)
    out = args.out or f"runs/ner-{args.arch}"
    training.seed_everything(args.seed)
    ds, source = data.load(args.data)
    state = training.run_state(args, out)  # once the data is there, so a run that cannot start leaves nothing
    labels = ds["train"].features["ner_tags"].feature.names
    featurize = ner.Featurizer.fit(ds["train"]["tokens"], args.min_word_freq)
    train, val = ner.encode_split(ds["train"], featurize), ner.encode_split(ds["validation"], featurize)
    embedding = dict(word_dim=args.word_dim, char_filters=args.char_filters, casing_dim=args.casing_dim,
                     dropout=args.dropout, word_dropout=args.word_dropout)
    model_cfg = ner.model_config(args.arch, featurize, len(labels), embedding, char_cnn=args.char_filters > 0,
                                 hidden_size=args.hidden_size, dropout=args.dropout, crf=args.crf)
    config = {"task": ner.TASK, "name": f"ner-{args.arch}", "arch": args.arch, "model": model_cfg, "labels": labels,
              "chars": featurize.chars, "metric": "f1", "data": source}
    model = ner.build_model(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"ner-{args.arch}: {n_params:,} parameters, vocabulary {len(featurize.word_ids):,} words, "
          f"{len(train):,} training sentences", file=sys.stderr)

    summary = training.fit(
        model, lambda epoch: (b for _, b in ner.batches(train, cfg.batch_size, shuffle=True, seed=cfg.seed * 1000 + epoch)),
        lambda m: ner.evaluate(m, val, labels), "f1", cfg, count=lambda b: int(b["lengths"].sum()),
        log=lambda s: print(s, file=sys.stderr), state=state, resume_run=args.resume)

    test = ner.encode_split(ds["test"], featurize) if "test" in ds else None
    splits = {"validation": val, "test": test}
    training.finish(model, config, summary, args, lambda split: ner.evaluate(model, splits[split], labels),
                    [s for s in splits if splits[s] is not None], out,
                    files={"tokenizer.json": featurize.tokenizer.to_str()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
