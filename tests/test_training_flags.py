"""What the training commands refuse before any data loads or anything is written: flags out of range,
an --arch that contradicts the --recipe, an --out that holds anything but a checkpoint (the run would delete
it when it saves), decoding settings a checkpoint could not hold, and data too small to hold out a
validation split. Each is one `error:` line and exit status 2."""
import importlib.util
import json
from pathlib import Path

import pytest

import zoo.registry

from test_sentiment import imdb_sample, sst_sample  # noqa: F401  (fixtures: small sentiment data sets)

ROOT = Path(__file__).resolve().parents[1]
NO_DATA = "/nonexistent/data"  # a flag error must come first: had the data been read, this would be the error


def script(name: str):
    spec = importlib.util.spec_from_file_location(f"train_{name}", ROOT / "train" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def refused(name: str, argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as e:
        script(name).main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" not in err
    return [line for line in err.splitlines() if "error:" in line][-1]


@pytest.mark.parametrize("flags, message", [
    (["--epochs", "0"], "--epochs must be at least 1"), (["--batch-size", "-1"], "--batch-size must be at least 1"),
    (["--batch-size", "100000000"], "--batch-size must be at least 1 and at most 4096"),  # was killed for memory
    (["--resume", "--restart"], "--resume continues a run's saved state and --restart discards it"),
    (["--lr", "nan"], "--lr must be above 0"), (["--lr", "0"], "--lr must be above 0"),
    (["--dropout", "2"], "--dropout must be at least 0 and below 1"), (["--threads", "-1"], "--threads must be at least 0"),
    (["--max-steps", "-1"], "--max-steps must be at least 0"), (["--hidden-size", "5000"], "at most 4096"),
    (["--clip", "inf"], "--clip must be above 0"), (["--word-dropout", "1"], "below 1"),
    (["--patience", "0"], "--patience must be at least 1"),
])
def test_flags_out_of_range_are_one_error_line_before_the_data_loads(flags, message, capsys, tmp_path):
    assert message in refused("ner", ["--data", NO_DATA, "--out", str(tmp_path / "run"), *flags], capsys)


def test_a_val_size_too_small_to_hold_out_is_refused_with_the_flags(capsys, tmp_path):
    """It was "lower --val-size", once the data had loaded."""
    assert "--val-size must be at least 2" in refused("sentiment", ["--data", NO_DATA, "--out", str(tmp_path / "r"),
                                                                    "--val-size", "1"], capsys)


def test_an_arch_that_contradicts_the_recipe_is_refused(capsys, tmp_path):
    line = refused("ner", ["--recipe", "ner-bilstm", "--arch", "rnn", "--data", NO_DATA, "--out", str(tmp_path / "r")],
                   capsys)
    assert "contradicts the recipe ner-bilstm" in line


def test_an_out_folder_holding_other_files_or_a_file_is_refused_and_kept(capsys, tmp_path):
    (tmp_path / "mine" / "sub").mkdir(parents=True)
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    assert "holds other files (notes.txt, sub)" in refused("sentiment", ["--data", NO_DATA, "--out", str(tmp_path / "mine")],
                                                           capsys)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious" and (tmp_path / "mine" / "sub").is_dir()
    assert "is a file" in refused("sentiment", ["--data", NO_DATA, "--out", str(tmp_path / "mine" / "notes.txt")], capsys)
    # a folder that cannot be made: said before the data loads (it was a traceback after it)
    under_file = tmp_path / "mine" / "notes.txt" / "sub"
    assert "notes.txt is a file, so no folder can be made under it" in refused(
        "sentiment", ["--data", NO_DATA, "--out", str(under_file)], capsys)


def test_an_out_folder_refused_when_it_is_made_is_one_line(sst_sample, tmp_path, capsys, monkeypatch):
    from pathlib import Path as P
    real = P.mkdir

    def refuse(self, *a, **k):
        if self.name == ".train_state":
            raise PermissionError(13, "Permission denied")
        return real(self, *a, **k)
    monkeypatch.setattr(P, "mkdir", refuse)
    argv = ["--data", str(sst_sample), "--word-dim", "8", "--hidden-size", "8", "--threads", "1", "--max-steps", "2",
            "--out", str(tmp_path / "r")]
    assert script("sentiment").main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: --out {tmp_path / 'r'}: cannot make the folder (Permission denied)"


def test_a_checkpoint_folder_or_an_empty_one_is_a_fine_out(sst_sample, tmp_path, capsys):
    train = script("sentiment")
    argv = ["--data", str(sst_sample), "--word-dim", "8", "--hidden-size", "8", "--threads", "1", "--max-steps", "2",
            "--epochs", "1", "--out", str(tmp_path / "run")]
    (tmp_path / "run").mkdir()
    assert train.main(argv) == 0  # empty
    assert "replaces the checkpoint" not in capsys.readouterr().err
    assert train.main(argv) == 0  # now a checkpoint folder: replaced by the new run, which says so at its start
    assert f"note: when it ends, this run replaces the checkpoint in {tmp_path / 'run'} (sentiment-bilstm, trained on " \
        f"{sst_sample})" in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "config.json").read_text())["task"] == "sentiment"


def test_a_run_over_another_tasks_checkpoint_is_refused_unless_restart(sst_sample, conll_sample, tmp_path, capsys):
    """train/ner.py --out on a finished sentiment checkpoint replaced it at its end, with only a note."""
    out = tmp_path / "run"
    assert script("sentiment").main(["--data", str(sst_sample), "--word-dim", "8", "--hidden-size", "8", "--threads",
                                     "1", "--max-steps", "2", "--epochs", "1", "--out", str(out)]) == 0
    before = (out / "config.json").read_bytes()
    ner = ["--data", str(conll_sample), "--hidden-size", "8", "--threads", "1", "--max-steps", "2", "--epochs", "1",
           "--out", str(out)]
    capsys.readouterr()
    assert script("ner").main(ner) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"error: {out}: holds the finished sentiment checkpoint sentiment-bilstm, which this ner run "
                       "would replace when it ends; give it another --out, or --restart to replace it")
    assert (out / "config.json").read_bytes() == before and not (out / ".train_state").exists()
    assert script("ner").main([*ner, "--restart"]) == 0
    assert json.loads((out / "config.json").read_text())["task"] == "ner"


def test_a_run_on_other_data_over_a_finished_checkpoint_is_refused_unless_restart(sst_sample, tmp_path, capsys):
    """An IMDB run with no --out (runs/sentiment-rnn, the default whatever the data) replaced an SST-2 model there."""
    import shutil
    out, other = tmp_path / "run", tmp_path / "other-data"
    shutil.copytree(sst_sample, other)  # another dataset, as far as the run can tell: another folder
    argv = ["--word-dim", "8", "--hidden-size", "8", "--threads", "1", "--max-steps", "2", "--epochs", "1",
            "--out", str(out)]
    assert script("sentiment").main(["--data", str(sst_sample), *argv]) == 0
    before = (out / "config.json").read_bytes()
    capsys.readouterr()
    assert script("sentiment").main(["--data", str(other), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"error: {out}: holds the finished checkpoint sentiment-bilstm, trained on {sst_sample}, which "
                       f"this run on {other} would replace when it ends; give it another --out, or --restart to replace it")
    assert (out / "config.json").read_bytes() == before
    same = str(sst_sample).replace(str(tmp_path), str(tmp_path) + "/.")  # the same folder written another way
    assert script("sentiment").main(["--data", same, *argv]) == 0  # the same data: replaced, with its note
    assert script("sentiment").main(["--data", str(other), *argv, "--restart"]) == 0


@pytest.mark.parametrize("flags, message", [(["--beams", "0"], "--beams: each value must be a whole number from 1 to 20"),
                                            (["--beams", "3,2.0"], "--beams: each value must be a whole number"),
                                            (["--beams", "abc"], "--beams takes comma-separated numbers"),
                                            (["--alphas", "0,-1"], "--alphas: each value must be a number from 0 to 10"),
                                            (["--max-len", "150"], "--max-len must be at least 1 and at most 100")])
def test_caption_decoding_settings_a_checkpoint_could_not_hold_are_refused_before_training(flags, message, capsys, tmp_path):
    assert message in refused("caption", ["--data", NO_DATA, "--out", str(tmp_path / "c"), *flags], capsys)


def test_data_too_small_to_hold_out_validation_is_one_line_and_writes_nothing(imdb_sample, tmp_path, capsys):
    out = tmp_path / "imdb-run"
    assert script("sentiment").main(["--data", str(imdb_sample), "--out", str(out), "--val-size", "2500"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error:") and "2,500 validation texts cannot be held out of 300" in err[-1]
    assert not out.exists()


@pytest.mark.parametrize("name", ["what_if", "caption_decoding", "memory_profile"])
def test_the_after_training_scripts_answer_a_missing_checkpoint_in_one_line(name, conll_sample, capsys):
    assert script(name).main(["/nonexistent/ckpt", "--data", str(conll_sample)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "/nonexistent/ckpt" in err[0]


@pytest.mark.parametrize("name", ["what_if", "caption_decoding", "memory_profile"])
def test_the_after_training_scripts_refuse_a_bundled_models_bare_name_and_a_hub_repo(name, conll_sample, capsys):
    """They rewrite the checkpoint in place: `caption_decoding.py caption-rnn` rewrote the bundled model and its
    manifest entry without a word. Only a folder named as one is rewritten."""
    before = (zoo.registry.BUNDLED / "MANIFEST.json").read_bytes()
    for arg, said in (("caption-rnn", "copy it (mkdir -p runs && cp -r zoo/checkpoints/caption-rnn runs/)"),
                      ("some-org/some-model", "give a checkpoint folder"),
                      ("runs/no-such-run", "there is no such folder")):
        assert script(name).main([arg, "--data", str(conll_sample), "--threads", "0"]) == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and "rewrites a checkpoint folder in place" in err[0] and said in err[0]
    assert (zoo.registry.BUNDLED / "MANIFEST.json").read_bytes() == before


def test_what_if_refuses_a_caption_checkpoint_whose_decoder_the_switches_do_not_reach(conll_sample, capsys, tmp_path):
    """It had recorded the same BLEU under every switch into the caption model's config.json."""
    import shutil
    shutil.copytree(zoo.registry.BUNDLED / "caption-rnn", tmp_path / "cap")
    before = (tmp_path / "cap" / "config.json").read_bytes()
    assert script("what_if").main([str(tmp_path / "cap"), "--data", str(conll_sample)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"error: {tmp_path / 'cap'} is a caption checkpoint; the what-if switches are for the text "
                   "models' LSTM and BiLSTM encoders (sentiment, NER)"]
    assert (tmp_path / "cap" / "config.json").read_bytes() == before


@pytest.mark.parametrize("amx", [True, False], ids=["amx", "no-amx"])
def test_fp16_on_the_cpu_is_refused_before_the_data_loads_with_advice_for_this_cpu(capsys, tmp_path, monkeypatch, amx):
    """The advice was bf16 on every CPU, where the project measured it slower than fp32 without AMX."""
    from zoo import cpu
    monkeypatch.setattr(cpu, "bf16_pays", lambda: amx)
    argv = ["--data", NO_DATA, "--out", str(tmp_path / "r"), "--precision", "fp16", "--device", "cpu"]
    assert script("sentiment").main(argv) == 2  # cli.script's one line, from the device check at parse time
    err = capsys.readouterr().err.strip().splitlines()
    here = "this CPU has AMX, so bf16 pays here" if amx else "bf16 only pays with AMX, which this CPU lacks"
    assert err == [f"error: --precision fp16 is for GPUs; on the CPU use fp32 or bf16 ({here}; --precision auto chooses)"]


def test_a_model_larger_than_zoo_load_takes_is_refused_before_it_trains(sst_sample, tmp_path, capsys, monkeypatch):
    """--word-dim 4096 on SST-2 trained a 41-million-parameter model and saved a checkpoint zoo.load refused."""
    import zoo.limits
    monkeypatch.setattr(zoo.limits, "MAX_PARAMS", 1_000)  # the tiny model's few thousand, over a lowered bound
    argv = ["--data", str(sst_sample), "--word-dim", "8", "--hidden-size", "8", "--threads", "1", "--max-steps", "2",
            "--out", str(tmp_path / "big")]
    assert script("sentiment").main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: sentiment-bilstm: ") and "zoo.load takes checkpoints of up to 1,000" in err[-1]
    assert not (tmp_path / "big").exists()  # refused before the run's state folder is made


def test_running_out_of_memory_is_one_line_naming_what_to_lower(sst_sample, tmp_path, capsys, monkeypatch):
    from zoo import training
    def no_memory(*a, **k):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: you tried "
                           "to allocate 3807919200 bytes. Error code 12 (Cannot allocate memory)")
    monkeypatch.setattr(training, "fit", no_memory)
    argv = ["--data", str(sst_sample), "--word-dim", "8", "--hidden-size", "8", "--threads", "1", "--out", str(tmp_path / "m")]
    assert script("sentiment").main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: out of memory (") and "lower --batch-size or the model's sizes" in err
    monkeypatch.setattr(training, "fit", lambda *a, **k: 1 / 0)  # any other error is a bug: its traceback stays
    with pytest.raises(ZeroDivisionError):
        script("sentiment").main([*argv[:-1], str(tmp_path / "m2")])


def test_a_folder_of_several_datasets_is_one_error_line_not_a_page_of_log(conll_sample, sst_sample, tmp_path):
    """--data ../shared/datasets (the parent folder) printed datasets' cast error for every file, then the error.
    A fresh process: datasets' log handler holds the stderr of the moment it was imported."""
    import shutil
    import subprocess
    import sys
    shutil.copytree(conll_sample, tmp_path / "all" / "conll2003")
    shutil.copytree(sst_sample, tmp_path / "all" / "sst2")
    r = subprocess.run([sys.executable, "train/ner.py", "--data", str(tmp_path / "all"), "--out", str(tmp_path / "r"),
                        "--threads", "1"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    err = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(err) == 1, err
    assert err[0] == f"error: {tmp_path / 'all'}: its train files sit in 2 folders, several datasets (conll2003, sst2): pass one of them"


def test_a_vocabulary_of_no_training_word_gets_a_warning_line(sst_sample, tmp_path, capsys):
    argv = ["--data", str(sst_sample), "--word-dim", "8", "--hidden-size", "8", "--threads", "1", "--max-steps", "1",
            "--epochs", "1", "--arch", "rnn"]
    assert script("sentiment").main([*argv, "--out", str(tmp_path / "a")]) == 0
    assert "warning: the vocabulary" not in capsys.readouterr().err
    assert script("sentiment").main([*argv, "--out", str(tmp_path / "b"), "--min-word-freq", "100000000"]) == 0
    assert "warning: the vocabulary holds no training word, so every word reads as <unk>; check --min-word-freq" \
        in capsys.readouterr().err


def test_caption_decoding_is_chosen_among_greedy_and_beams_by_default():
    """Beam 1 was left out of --beams: a short run chose beam 5 at 8.24 validation BLEU-4 where greedy had 9.83."""
    from train.caption import parse_args
    assert parse_args(["--data", "x", "--out", "/tmp/seqzoo-never-written"]).beams.split(",")[0] == "1"
