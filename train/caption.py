"""Train an image captioner (vanilla RNN, LSTM or bidirectional LSTM decoders) on Flickr8k.

    python train/caption.py --recipe caption-lstm --data ../shared/datasets/flickr8k --threads 1
    python train/caption.py --recipe caption-bilstm          # the data from the Hugging Face Hub
    python train/caption.py --arch rnn --data ../shared/datasets/flickr8k --max-steps 20  # smoke run
    python train/caption.py --recipe caption-lstm --data ../shared/datasets/flickr8k --resume  # after a crash

Each epoch is scored on the validation split with greedy decoding (fast), and the epoch with the best
BLEU-4 is kept. Then the beam width and length normalisation are chosen on validation, the test split is
scored once with them, and a self-contained checkpoint (config.json, model.safetensors, tokenizer.json)
is written to --out.
"""
from __future__ import annotations

import json
import sys

from zoo import interrupt

if __name__ == "__main__":
    interrupt.quiet_while_starting()  # Ctrl-C while the imports below load (2-4 s): one line, not a traceback

import torch

from tasks import caption, image_encoder
from zoo import cli, data, run_flags, same_run, training


def parse_args(argv=None):
    p = cli.parser(__doc__, caption.TASK, caption.HUB_DATA, arch="lstm")
    p.add_argument("--encoder", default=image_encoder.DEFAULT, choices=sorted(image_encoder.ENCODERS),
                   help="registered image encoder (tasks.image_encoder.register_encoder): the data's feature "
                        "column of that name, else computed from its images; a checkpoint reads photos through it")
    p.add_argument("--hidden-size", type=int, default=caption.CaptionConfig.hidden_size,
                   help="decoder hidden units (per direction); bilstm: two decoders of this size")
    p.add_argument("--embed-dim", type=int, default=caption.CaptionConfig.embed_dim, help="word and image embedding size")
    p.add_argument("--dropout", type=float, default=caption.CaptionConfig.dropout,
                   help="dropout probability on the image's projection, the word embeddings and the decoder's outputs")
    p.add_argument("--min-word-freq", type=int, default=5, help="rarer training words are <unk>")
    # 1 (greedy) too: a short run's weak model can decode best without a beam (its table gave 9.83 greedy, 8.24 chosen)
    p.add_argument("--beams", default="1,3,5,10",
                   help="beam widths tried on validation after training, comma separated (default: %(default)s)")
    p.add_argument("--max-len", type=int, default=20, help="longest caption generated, in words")
    p.add_argument("--alphas", default="0,0.25,0.5,0.75,1",
                   help="length-normalisation exponents tried on validation after training (comma separated)")
    # patience 5: greedy validation BLEU-4 swings by up to 3.5 points between epochs, and with 3 a lucky
    # early epoch ended runs (docs/training.md)
    args = cli.parse(p, argv, caption.TASK, training.TrainConfig(epochs=15, batch_size=64, lr=5e-4, patience=5))
    run_flags.caption_decoding(p, args)  # checked now, not after training (and within what zoo.load accepts)
    return args


@cli.script
def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = training.config_from_args(args)
    training.seed_everything(args.seed)  # --threads: set as the flags were read (cli.parse)
    ds, source = data.load(args.data)
    data.require(ds, args.data, splits=("train", "validation"), columns=caption.CAPTION_COLUMNS[:1])
    with caption.read_as_captions(args.data):
        vocab = caption.Vocab.fit([c for col in caption.CAPTION_COLUMNS for c in ds["train"][col] if c],
                                  args.min_word_freq)
        splits = {s: caption.encode_split(ds[s], vocab, args.encoder) for s in ("train", "validation", "test") if s in ds}
    train, val = splits["train"], splits["validation"]
    for name, split in splits.items():  # NaN features made the first loss NaN, said as "lower --lr"
        bad = (~torch.isfinite(split["features"]).all(dim=1)).nonzero()
        if len(bad):
            raise data.DataUnavailable(f"{args.data}: the {name} split's row {int(bad[0])}: its {args.encoder!r} "
                                       "features hold NaN or an infinity")
    dim = getattr(image_encoder.ENCODERS[args.encoder], "dim", None)
    if dim is not None and train["features"].shape[1] != dim:  # photos would reach the model at another size
        raise data.DataUnavailable(f"{args.data}: its {args.encoder!r} column has {train['features'].shape[1]}-d "
                                   f"features; the {args.encoder} encoder gives {dim}-d ones to a photo")
    config = caption.make_config(args.arch, vocab, args.encoder, data=source, name=args.name, max_len=args.max_len,
                                 feature_dim=train["features"].shape[1], embed_dim=args.embed_dim,
                                 hidden_size=args.hidden_size, dropout=args.dropout)
    model = caption.build_model(config)
    cli.warn_if_no_words(vocab.tokenizer, "--min-word-freq")
    cli.check_size(args.name, model)
    state = same_run.state_folder(args, ds=ds)  # once nothing can refuse the run: a refused one leaves nothing behind
    cli.describe(args.name, model, f"vocabulary {len(vocab):,} words",
                 f"{len(train['captions']):,} training captions of {len(train['features']):,} images")

    summary = training.fit(
        model, lambda epoch: caption.batches(train, cfg.batch_size, vocab.bos, vocab.eos, True,
                                             training.epoch_seed(cfg, epoch)),
        lambda m: caption.evaluate(m, val, vocab, beam=1, max_len=args.max_len), config["metric"], cfg,
        count=lambda b: int((b["forward"] > 0).sum()), log=cli.log, state=state, resume_run=args.resume)

    # beam width and length normalisation, chosen on validation (BLEU-4) with the selected weights as they are saved
    # (rounded to --dtype): the chosen pair's BLEU-4 is then the one the checkpoint records, not 0.01 apart
    training.round_weights(model, args.dtype)
    config["decode"].update(caption.decode_settings(model, val, vocab, args.beams, args.alphas, args.max_len))
    cli.log(f"validation BLEU-4 by decoding: {json.dumps(config['decode'])}")
    d = config["decode"]
    return cli.finish(args, model, config, summary,
                      lambda split: caption.evaluate(model, splits[split], vocab, d["beam"], d["max_len"], d["alpha"]),
                      [s for s in ("validation", "test") if s in splits], files={"tokenizer.json": vocab.tokenizer.to_str()})


if __name__ == "__main__":
    sys.exit(main())
