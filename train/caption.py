"""Train an image captioner (vanilla RNN, LSTM or bidirectional LSTM decoders) on Flickr8k.

    python train/caption.py --arch lstm --data ../shared/datasets/flickr8k --threads 1
    python train/caption.py --arch bilstm --data jxie/flickr8k --out runs/caption-bilstm   # from the Hub
    python train/caption.py --arch rnn --data ../shared/datasets/flickr8k --max-steps 20  # smoke run
    python train/caption.py --arch lstm --data ../shared/datasets/flickr8k --threads 1 --resume  # after a crash

Each epoch is scored on the validation split with greedy decoding (fast), and the epoch with the best
BLEU-4 is kept. Then the length normalisation of beam search is chosen on validation, the test split is
scored once with beam search, and a self-contained checkpoint (config.json, model.safetensors,
tokenizer.json) is written to --out.
"""
from __future__ import annotations

import argparse
import sys

from tasks import caption, image_encoder
from zoo import data, training


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--arch", choices=caption.ARCHS, default="lstm",
                   help="decoder: rnn, lstm, or bilstm (a forward and a backward LSTM decoder, rescored together)")
    p.add_argument("--data", default=caption.HUB_DATA, help="Hub id or local folder of the dataset")
    p.add_argument("--out", default=None, help="checkpoint folder (default: runs/caption-ARCH)")
    p.add_argument("--encoder", default=image_encoder.DEFAULT,
                   help="image encoder name: a precomputed feature column of the data, or computed from its images")
    p.add_argument("--hidden-size", type=int, default=448, help="decoder hidden units (per direction)")
    p.add_argument("--embed-dim", type=int, default=256, help="word and image embedding size")
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--min-word-freq", type=int, default=5, help="rarer training words are <unk>")
    p.add_argument("--beams", default="3,5,10", help="beam widths tried on validation after training (comma separated)")
    p.add_argument("--max-len", type=int, default=20, help="longest caption generated, in words")
    p.add_argument("--alphas", default="0,0.25,0.5,0.75,1",
                   help="length-normalisation exponents tried on validation after training (comma separated)")
    p.add_argument("--dtype", choices=("float16", "float32"), default="float16", help="weights as saved")
    # patience 5: greedy validation BLEU-4 swings by up to 3.5 points between epochs, and with 3 a lucky
    # early epoch ended runs (bench/zoo_cost.py runs, README)
    training.add_train_args(p, training.TrainConfig(epochs=15, batch_size=64, lr=5e-4, patience=5))
    return p.parse_args(argv)


@training.script
def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = training.config_from_args(args)
    training.seed_everything(args.seed)
    if cfg.threads:
        import torch
        torch.set_num_threads(cfg.threads)
    out = args.out or f"runs/caption-{args.arch}"
    ds, source = data.load(args.data)
    try:  # a data set without the captions or features this task reads
        vocab = caption.Vocab.fit([c for col in caption.CAPTION_COLUMNS for c in ds["train"][col] if c],
                                  args.min_word_freq)
        splits = {s: caption.encode_split(ds[s], vocab, args.encoder) for s in ("train", "validation", "test") if s in ds}
    except (ValueError, KeyError) as e:
        raise data.DataUnavailable(f"{args.data}: not usable for captions: {e}") from None
    state = training.run_state(args, out)  # once the data is there, so a run that cannot start leaves nothing
    train, val = splits["train"], splits["validation"]
    model_cfg = caption.model_config(args.arch, vocab, feature_dim=train["features"].shape[1], embed_dim=args.embed_dim,
                                     hidden_size=args.hidden_size, dropout=args.dropout)
    config = {"task": caption.TASK, "name": f"caption-{args.arch}", "arch": args.arch, "model": model_cfg,
              "encoder": args.encoder, "metric": "bleu4", "data": source,
              "decode": {"beam": 1, "max_len": args.max_len, "alpha": 0.0}}
    model = caption.build_model(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"caption-{args.arch}: {n_params:,} parameters, vocabulary {len(vocab):,} words, "
          f"{len(train['captions']):,} training captions of {len(train['features']):,} images", file=sys.stderr)

    summary = training.fit(
        model, lambda epoch: caption.batches(train, cfg.batch_size, vocab.bos, vocab.eos, shuffle=True,
                                             seed=cfg.seed * 1000 + epoch),
        lambda m: caption.evaluate(m, val, vocab, beam=1, max_len=args.max_len), "bleu4", cfg,
        count=lambda b: int((b["forward"] > 0).sum()), log=lambda s: print(s, file=sys.stderr),
        state=state, resume_run=args.resume)

    # beam width and length normalisation, chosen on validation (BLEU-4) with the selected weights
    config["decode"].update(caption.decode_settings(model, val, vocab, args.beams, args.alphas, args.max_len))
    print(f"validation BLEU-4 by decoding: {config['decode']}", file=sys.stderr)

    d = config["decode"]
    training.finish(model, config, summary, args,
                    lambda split: caption.evaluate(model, splits[split], vocab, d["beam"], d["max_len"], d["alpha"]),
                    [s for s in ("validation", "test") if s in splits], out,
                    files={"tokenizer.json": vocab.tokenizer.to_str()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
