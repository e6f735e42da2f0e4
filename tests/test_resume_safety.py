"""--resume never wipes a saved state: a missing or damaged run.json beside a valid state is an error that keeps
it; a run is recognised by its flags and its data's content, not by paths, so a moved run folder resumes; a
hand-edited state record is refused with one error line. Training scripts check their data before they
write anything."""
from __future__ import annotations

import json
import shutil
from argparse import Namespace

import pytest

from zoo import checkpoint, cli, resume, same_run
from test_resume import NER_TINY, run_ner, run_sentiment, toy_fit
from test_sentiment import make_texts, write_split


def _state(tmp_path, out="run", ds=None):
    """A run's state folder as a run leaves it: run.json, then a complete saved state."""
    args = Namespace(data=str(tmp_path / "data"), hidden_size=16, lr=0.01, threads=1, save_every=4, resume=False,
                     push_to_hub=None, out=str(tmp_path / out))
    folder = same_run.state_folder(args, ds=ds)
    toy_fit(folder)
    return args, folder


@pytest.mark.parametrize("damage", [lambda f: (f / "run.json").unlink(), lambda f: (f / "run.json").write_text("{cut"),
                                    lambda f: (f / "run.json").write_text("[]")], ids=["missing", "cut", "not-a-dict"])
def test_resume_with_run_json_missing_or_damaged_is_an_error_that_keeps_the_state(tmp_path, damage):
    args, folder = _state(tmp_path)
    damage(folder)
    before = sorted(p.name for p in folder.iterdir())
    with pytest.raises(resume.StateError, match="run.json: .*the saved state is kept"):
        same_run.state_folder(Namespace(**{**vars(args), "resume": True}))
    assert sorted(p.name for p in folder.iterdir()) == before and resume.load(folder) is not None


def test_the_script_keeps_the_state_and_says_so_in_one_line(conll_sample, tmp_path, capsys):
    out = tmp_path / "out"
    from train.ner import parse_args
    folder = same_run.state_folder(parse_args([*NER_TINY, "--data", str(conll_sample), "--out", str(out)]))
    toy_fit(folder)
    (folder / "run.json").unlink()
    capsys.readouterr()  # the toy run's progress bars
    assert run_ner(conll_sample, out, "--resume") == 2  # was 0, with the state wiped
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "run.json: missing" in err[-1]  # above it: datasets' loading lines
    assert sum(line.startswith("error") for line in err) == 1 and "Traceback" not in "\n".join(err)
    assert (folder / resume.RECORD).is_file()


def test_a_moved_run_folder_and_moved_data_resume_but_other_data_does_not(tmp_path):
    from datasets import Dataset, DatasetDict
    data = DatasetDict({"train": Dataset.from_dict({"x": [1, 2, 3]})})
    args, folder = _state(tmp_path, ds=data)
    shutil.move(str(tmp_path / "run"), str(tmp_path / "moved"))  # the run folder, state and all
    moved = Namespace(**{**vars(args), "resume": True, "out": str(tmp_path / "moved"), "data": "/elsewhere/data"})
    assert same_run.state_folder(moved, ds=data) == tmp_path / "moved" / same_run.STATE_DIR
    for other, said in ((DatasetDict({"train": Dataset.from_dict({"x": [1, 2, 3, 4]})}),
                         r"data: other content in train \(3 rows then, 4 now\)\);"),
                        (DatasetDict({"train": Dataset.from_dict({"x": [1, 2, 4]})}),  # the same shape, other rows
                         r"data: other content in train\);")):
        with pytest.raises(resume.StateError, match=said) as e:
            same_run.state_folder(moved, ds=other)
        assert "sample" not in str(e.value)  # not the two dicts of hashes it once printed
    with pytest.raises(resume.StateError, match="hidden_size: 16 then, 32 now"):
        same_run.state_folder(Namespace(**{**vars(moved), "hidden_size": 32}), ds=data)


@pytest.mark.parametrize("edit,match", [
    ({"batch": -5}, "batch -5 is not a whole number"),
    ({"epoch": 99}, "epoch 99 is beyond this run's 3 epochs"),
    ({"step": "7"}, "step '7' is not a whole number"),
    ({"done": "yes"}, "done 'yes' is not true or false"),
    ({"best_epoch": 3}, "best epoch 3, for"),
    ({"history": []}, "0 epochs of history"),
    ({"batch": 4, "batches_in_epoch": 2}, "batch 4 is beyond its epoch"),
    ({"seconds": -1.0}, "seconds -1.0 is not a number"),
])
def test_a_hand_edited_state_record_is_refused(tmp_path, monkeypatch, edit, match):
    def crash(where, n):
        if (where, n) == ("step", 7):
            raise KeyboardInterrupt  # stands in for a kill: the last state is step 6, one batch into epoch 2
    monkeypatch.setattr(resume, "crash_point", crash)
    with pytest.raises(KeyboardInterrupt):
        toy_fit(tmp_path / "s")
    monkeypatch.undo()
    path = tmp_path / "s" / resume.RECORD
    record = json.loads(path.read_text())
    assert (record["epoch"], record["batch"], record["step"]) == (1, 1, 6)
    path.write_text(json.dumps({**record, **edit}))
    with pytest.raises(resume.StateError, match=match):
        toy_fit(tmp_path / "s", resume_run=True)
    path.write_text(json.dumps(record))  # the record as saved resumes: the check refuses only what is wrong
    assert toy_fit(tmp_path / "s", resume_run=True)[1]["resumed_at_steps"] == [6]


def _conll_like(folder, tags_as_numbers=False, splits=("train", "validation"), spoil=None):
    from datasets import ClassLabel, Dataset, Features, Sequence, Value
    from conftest import NER_LABELS, ner_sentences
    tag = Value("int64") if tags_as_numbers else ClassLabel(names=NER_LABELS)
    features = Features({"tokens": Sequence(Value("string")), "ner_tags": Sequence(tag)})
    folder.mkdir()
    for split in splits:
        rows = ner_sentences(20)
        if spoil and split == "train" and spoil != "tag 42":
            rows[3] = spoil(rows[3])
        Dataset.from_dict({"tokens": [r[0] for r in rows], "ner_tags": [r[1] for r in rows]},
                          features=features).to_parquet(folder / f"{split}.parquet")
    if spoil == "tag 42":  # a tag id past the names: datasets will not write one, so pyarrow does, metadata kept
        import pyarrow as pa
        import pyarrow.parquet as pq
        table = pq.read_table(folder / "train.parquet")
        tags = table.column("ner_tags").to_pylist()
        tags[3] = [42] * len(tags[3])
        table = table.set_column(1, "ner_tags", pa.array(tags, table.schema.field("ner_tags").type))
        pq.write_table(table, folder / "train.parquet")
    return folder


@pytest.mark.parametrize("script,make,match", [
    ("ner", lambda d: _conll_like(d, tags_as_numbers=True), "the train split's ner_tags are "),
    ("ner", lambda d: _conll_like(d, splits=("train",)), "no validation split"),
    # a row with a tag short, or a tag id past the names: trained silently or a traceback mid-run
    ("ner", lambda d: _conll_like(d, spoil=lambda r: (r[0], r[1][:-1])), "the train split's row 3: "),
    ("ner", lambda d: _conll_like(d, spoil="tag 42"), "row 3: tag id 42; the tags are 0 to 8"),
    ("sentiment", lambda d: _sst_like(d, ("train", "validation"), spoil=(3, "label", -1)), "row 3: label -1; "),
    ("sentiment", lambda d: _sst_like(d, ("train", "validation"), spoil=(5, "sentence", None)), "row 5: no sentence"),
    ("ner", lambda d: _sst_like(d, ("train", "validation")), "has no tokens, ner_tags column"),
    ("sentiment", lambda d: _conll_like(d), "has no label, sentence or text column"),
    ("sentiment", lambda d: _sst_like(d, ("validation",)), "no train split"),
    ("caption", lambda d: _flickr_like(d, ("train",)), "no validation split"),
    ("caption", lambda d: _conll_like(d), "has no caption_0 column"),
    # features of another size than the encoder gives a photo: the checkpoint trained, then failed on every photo
    ("caption", lambda d: _flickr_like(d, ("train", "validation"), dim=512),
     "its 'efficientnet_lite0' column has 512-d features; the efficientnet_lite0 encoder gives 1280-d ones"),
    ("caption", lambda d: _flickr_like(d, ("train", "validation"), nan_row=2),  # was "loss is nan ... lower --lr"
     "the train split's row 2: its 'efficientnet_lite0' features hold NaN or an infinity"),
])
def test_a_training_script_on_the_wrong_data_says_so_in_one_line_and_writes_nothing(tmp_path, capsys, script, make, match):
    data = make(tmp_path / "data")
    out = tmp_path / "out"
    assert {"ner": run_ner, "sentiment": run_sentiment, "caption": _run_caption}[script](data, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and match in err[-1] and "Traceback" not in "\n".join(err)
    assert not out.exists()  # no .train_state left behind


def _sst_like(folder, splits, spoil=None):
    folder.mkdir()
    for i, split in enumerate(splits):
        write_split(folder, split, *make_texts(40, seed=i))
    if spoil:  # (row, column, value) in the train split
        import pandas as pd
        df = pd.read_parquet(folder / "train.parquet")
        df[spoil[1]] = df[spoil[1]].astype(object)
        df.at[spoil[0], spoil[1]] = spoil[2]
        df[spoil[1]] = df[spoil[1]].astype("Int64") if spoil[1] == "label" else df[spoil[1]]
        df.to_parquet(folder / "train.parquet")
    return folder


def _flickr_like(folder, splits, dim=1280, nan_row=None):
    from datasets import Dataset
    folder.mkdir()
    for split in splits:
        features = [[0.5] * dim for _ in range(4)]
        if nan_row is not None and split == "train":
            features[nan_row][7] = float("nan")
        Dataset.from_dict({**{f"caption_{i}": ["a dog runs ."] * 4 for i in range(5)},
                           "efficientnet_lite0": features}).to_parquet(folder / f"{split}.parquet")
    return folder


def _run_caption(data, out):
    from train.caption import main
    return main(["--arch", "rnn", "--data", str(data), "--out", str(out), "--max-steps", "1", "--threads", "1"])


def test_fp16s_loss_scale_is_saved_and_restored_with_the_state(tmp_path):
    """fp16 runs (on a GPU) scale the loss; a resumed run must go on from the scale reached, not GradScaler's
    starting 65536, or it skips other steps than the uninterrupted run and ends elsewhere."""
    import torch
    from zoo import progress, training
    model = torch.nn.Linear(3, 2)
    opt = training.optimizer(model, 1e-3, 0.0)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max")
    cfg, run = training.TrainConfig(), progress.Progress()
    scaler = torch.amp.GradScaler("cpu", init_scale=8192.0)
    progress.save(tmp_path, model, opt, plateau, None, run, cfg, 0.0, scaler)
    fresh = torch.amp.GradScaler("cpu")
    progress.restore(tmp_path, model, opt, plateau, cfg, training.FREE_ON_RESUME, print, fresh)
    assert fresh.get_scale() == 8192.0


def test_a_state_saved_before_dtype_was_free_on_resume_still_resumes(tmp_path):
    """run.json files written before --dtype could change on resume hold it: they were all refused
    ("dtype: 'float32' then, None now")."""
    args, folder = _state(tmp_path)
    record = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**record, "dtype": "float32"}))
    assert same_run.state_folder(Namespace(**{**vars(args), "resume": True}), ds=None) == folder


def test_a_state_saved_by_another_number_of_processes_is_refused_naming_it(tmp_path, monkeypatch):
    """A 2-process run's state resumed in one process said "resumed", then "epoch 1 had 526 batches, now 1053";
    at an epoch's end it resumed silently, half the run at batch 64 and half at 128 a step."""
    args, folder = _state(tmp_path)  # one process
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(same_run.distributed, "setup", lambda device: None)  # no process group for a check
    with pytest.raises(resume.StateError, match=r"processes: 1 then, 2 now"):
        same_run.state_folder(Namespace(**{**vars(args), "resume": True}))
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert same_run.state_folder(Namespace(**{**vars(args), "resume": True})) == folder


def test_a_state_saved_before_the_process_count_was_recorded_still_resumes(tmp_path):
    args, folder = _state(tmp_path)
    record = json.loads((folder / "run.json").read_text())
    del record["processes"]
    (folder / "run.json").write_text(json.dumps(record))
    assert same_run.state_folder(Namespace(**{**vars(args), "resume": True})) == folder


def test_the_checkpoint_scripts_refuse_a_folder_in_the_hub_cache(tmp_path, monkeypatch):
    snapshot = tmp_path / "cache" / "models--org--m" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(checkpoint.CheckpointError, match="a Hub download in the cache"):
        cli.rewritable(str(snapshot))
