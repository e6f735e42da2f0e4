"""Nothing a user saved is lost to a training command: a killed run's saved progress is thrown away only with
--restart (a forgotten --resume is refused), --resume on a finished checkpoint is refused rather than training it
again, --out never replaces a folder of a user's files named like a checkpoint's nor a bundled model, a seed
outside NumPy's range is one error line before anything is written, and the scripts that rewrite a config
refuse an ONNX export (a rewrite would drop its graphs)."""
from __future__ import annotations

from argparse import Namespace

import pytest

import zoo
from app_models import write_models
from test_resume import NER_TINY, run_ner, toy_fit
from test_sentiment import make_texts, write_split
from zoo import checkpoint, registry, resume, same_run


def _args(tmp_path, **extra):
    return Namespace(data=str(tmp_path / "data"), hidden_size=16, lr=0.01, threads=1, save_every=4, resume=False,
                     restart=False, push_to_hub=None, out=str(tmp_path / "run"), **extra)


def test_a_forgotten_resume_is_refused_and_the_killed_runs_progress_kept_until_restart(tmp_path):
    args = _args(tmp_path)
    folder = same_run.state_folder(args)
    toy_fit(folder)  # a run killed after saving its progress
    with pytest.raises(resume.StateError, match="--resume continues it, --restart discards it"):
        same_run.state_folder(args)
    assert resume.load(folder) is not None
    with pytest.raises(resume.StateError, match="give one"):
        same_run.state_folder(Namespace(**{**vars(args), "resume": True, "restart": True}))
    assert same_run.state_folder(Namespace(**{**vars(args), "resume": True})) == folder and resume.load(folder) is not None
    same_run.state_folder(Namespace(**{**vars(args), "restart": True}))
    assert resume.load(folder) is None and (folder / "run.json").is_file()


def test_a_run_started_with_restart_resumes_and_how_a_run_treats_its_state_is_not_recorded(tmp_path):
    args = Namespace(**{**vars(_args(tmp_path)), "restart": True})
    folder = same_run.state_folder(args)
    toy_fit(folder)
    assert "restart" not in (folder / "run.json").read_text() and "resume" not in (folder / "run.json").read_text()
    resumed = Namespace(**{**vars(args), "restart": False, "resume": True})
    assert same_run.state_folder(resumed) == folder and resume.load(folder) is not None  # was: "restart: True then, False now"


def test_resume_on_a_finished_checkpoint_is_refused_not_trained_again(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / checkpoint.CONFIG).write_text("{}")  # what a finished run leaves: the checkpoint, no state
    with pytest.raises(resume.StateError, match="a finished checkpoint and no saved state, so nothing to resume"):
        same_run.state_folder(Namespace(**{**vars(_args(tmp_path)), "resume": True}))
    assert (out / checkpoint.CONFIG).read_text() == "{}"


def test_the_script_refuses_to_wipe_saved_progress_in_one_line(conll_sample, tmp_path, capsys):
    out = tmp_path / "out"
    from train.ner import parse_args
    folder = same_run.state_folder(parse_args([*NER_TINY, "--data", str(conll_sample), "--out", str(out)]))
    toy_fit(folder)
    capsys.readouterr()
    assert run_ner(conll_sample, out) == 2  # was 0: the state emptied without a word
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "--restart" in err[-1] and "Traceback" not in "\n".join(err)
    assert resume.load(folder) is not None


@pytest.mark.parametrize("files", [{"README.md": "my notes", "config.json": '{"mine": 1}'}, {"README.md": "my notes"}],
                         ids=["notes-and-a-config", "notes"])
def test_out_with_a_users_files_named_like_a_checkpoints_is_refused_and_kept(tmp_path, capsys, files):
    from train.ner import parse_args
    out = tmp_path / "mine"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    with pytest.raises(SystemExit) as e:
        parse_args([*NER_TINY, "--data", "x", "--out", str(out)])
    assert e.value.code == 2 and "no seqzoo checkpoint" in capsys.readouterr().err
    assert {p.name: p.read_text() for p in out.iterdir()} == files


def test_out_may_be_a_seqzoo_checkpoint_but_not_a_bundled_one(tmp_path, capsys):
    from train.ner import parse_args
    folder = write_models(tmp_path / "models", tasks=("ner",)) / "ner-lstm"
    # its own data (tests/app_models.py records tests/sample): replaced, with a note; other data is refused
    assert parse_args([*NER_TINY, "--data", "tests/sample", "--out", str(folder)]).out == str(folder)
    with pytest.raises(SystemExit) as e:
        parse_args([*NER_TINY, "--data", "x", "--out", str(registry.BUNDLED / "ner-bilstm")])
    assert e.value.code == 2 and "bundled models' folder" in capsys.readouterr().err
    # another checkout's bundled folder (the script imports the zoo installed from this one): its manifest says so
    from zoo import integrity
    other = tmp_path / "clone" / "zoo" / "checkpoints"
    write_models(other, tasks=("ner",))
    integrity.write_manifest(other)
    with pytest.raises(SystemExit) as e:
        parse_args([*NER_TINY, "--data", "x", "--out", str(other / "ner-rnn")])
    assert e.value.code == 2 and "bundled models' folder" in capsys.readouterr().err


@pytest.mark.parametrize("seed", ["-1", "4294967296"])
def test_a_seed_outside_numpys_range_is_one_error_line(tmp_path, capsys, seed):
    from train.ner import parse_args
    with pytest.raises(SystemExit) as e:
        parse_args([*NER_TINY, "--data", "x", "--out", str(tmp_path / "run"), "--seed", seed])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "--seed must be at least 0 and at most 4294967295" in err
    assert not (tmp_path / "run").exists()


def test_what_if_refuses_an_onnx_export_and_keeps_its_graphs(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from train.what_if import main
    from zoo.export import to_onnx
    plain = write_models(tmp_path / "models", tasks=("sentiment",)) / "sentiment-lstm"
    exported = to_onnx(zoo.load(plain), tmp_path / "exported")
    before, config = sorted(p.name for p in exported.iterdir()), (plain / "config.json").read_bytes()
    write_split(tmp_path / "sst2", "validation", *make_texts(8, 0))
    for folders in ([exported], [plain, exported]):  # listed second, it is still refused before any work
        assert main([*map(str, folders), "--data", str(tmp_path / "sst2")]) == 2
        assert "is an ONNX export" in capsys.readouterr().err.strip().splitlines()[-1]
    assert sorted(p.name for p in exported.iterdir()) == before and zoo.load(exported).runtime == "onnxruntime"
    assert (plain / "config.json").read_bytes() == config
