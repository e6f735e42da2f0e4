"""Faults in training: a run killed with SIGKILL and resumed with --resume ends with the same weights and
metrics, bit for bit, as a run never interrupted; state and checkpoint writes are atomic; the same seed
and data give the same weights file on the CPU.

The kills are real SIGKILLs, sent by the training process to itself at a chosen point through the
SEQZOO_TEST_SIGKILL hook (zoo/resume.py): a fixed point, not a timer, so the tests do not depend on speed.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from zoo import checkpoint, resume, same_run, training
from test_sentiment import make_texts, write_split

ROOT = Path(__file__).resolve().parents[1]
NER_TINY = ["--arch", "bilstm", "--epochs", "4", "--batch-size", "8", "--hidden-size", "16", "--word-dim", "16",
            "--char-filters", "8", "--min-word-freq", "1", "--lr", "0.01", "--dtype", "float32", "--threads", "1",
            "--save-every", "4"]  # 120 sentences: 15 batches an epoch, a state every 4 steps and at epoch ends
SENTIMENT_TINY = ["--arch", "bilstm", "--epochs", "2", "--batch-size", "16", "--word-dim", "16", "--hidden-size", "16",
                  "--lr", "1e-2", "--dtype", "float32", "--threads", "1", "--save-every", "10"]  # 25 batches an epoch


def run_ner(data, out, *extra):
    from train.ner import main
    return main([*NER_TINY, "--data", str(data), "--out", str(out), *extra])


def run_sentiment(data, out, *extra):
    from train.sentiment import main
    return main([*SENTIMENT_TINY, "--data", str(data), "--out", str(out), *extra])


def killed(script: str, args: list[str], at: str) -> subprocess.CompletedProcess:
    """Run a training script in a child process that SIGKILLs itself at `at` ("step:N" or "save:N")."""
    env = {**os.environ, resume.TEST_KILL_ENV: at, "OMP_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, script, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]
    return r


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recipe(folder: Path) -> dict:
    """config.json without what may differ between two runs of one recipe: wall-clock times, the command
    line (--resume, --out), the output folder and the record of resumes."""
    cfg = json.loads((folder / "config.json").read_text())
    for key in ("command", "train_seconds", "epoch_seconds", "resumed_at_steps"):
        cfg["train"].pop(key, None)
    cfg["train"]["options"].pop("out")
    return cfg


def assert_same_run(a: Path, b: Path) -> None:
    assert sha256(a / "model.safetensors") == sha256(b / "model.safetensors")
    assert recipe(a) == recipe(b)  # metrics on every split, best epoch, steps, per-epoch validation scores


@pytest.fixture(scope="module")
def ner_reference(conll_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("ner") / "uninterrupted"
    assert run_ner(conll_sample, out) == 0
    assert json.loads((out / "config.json").read_text())["metrics"]["validation"]["f1"] > 10  # it learned something
    return out


def test_same_seed_and_data_give_a_bit_identical_weights_file(conll_sample, ner_reference, tmp_path):
    # config.json holds wall-clock times and the command line, so the weights file is what is compared
    assert run_ner(conll_sample, tmp_path / "again") == 0
    assert sha256(tmp_path / "again" / "model.safetensors") == sha256(ner_reference / "model.safetensors")
    assert recipe(tmp_path / "again") == recipe(ner_reference)


def test_threads_apply_before_the_data_is_encoded_and_the_model_built(conll_sample, tmp_path, monkeypatch):
    """--threads took effect in fit, after the starting weights: the same flags gave another full CoNLL run
    (ner-rnn, one epoch: F1 73.74 against 73.58) with torch's default two threads than with OMP_NUM_THREADS=1."""
    from tasks import ner
    seen, build, encode = [], ner.build_model, ner.encode_split
    monkeypatch.setattr(ner, "build_model", lambda config: seen.append(torch.get_num_threads()) or build(config))
    monkeypatch.setattr(ner, "encode_split", lambda *a: seen.append(torch.get_num_threads()) or encode(*a))
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert run_ner(conll_sample, tmp_path / "out", "--epochs", "1") == 0  # NER_TINY: --threads 1
    finally:
        torch.set_num_threads(before)
    assert seen and set(seen) == {1}  # each split's encoding, then the model


def test_a_run_killed_mid_epoch_resumes_to_the_same_weights_and_metrics(conll_sample, ner_reference, tmp_path):
    out = tmp_path / "killed"
    killed("train/ner.py", [*NER_TINY, "--data", str(conll_sample), "--out", str(out)], at="step:22")
    state = json.loads((out / same_run.STATE_DIR / resume.RECORD).read_text())
    assert (state["epoch"], state["batch"], state["step"]) == (1, 5, 20)  # the last save: epoch 2, 5 batches in
    assert not (out / "model.safetensors").exists()
    assert run_ner(conll_sample, out, "--resume") == 0
    assert json.loads((out / "config.json").read_text())["train"]["resumed_at_steps"] == [20]
    assert_same_run(out, ner_reference)
    assert not (out / same_run.STATE_DIR).exists()  # the finished checkpoint replaced the folder, state and all


def test_ctrl_c_ends_the_step_saves_the_state_and_a_resume_reaches_the_same_weights(conll_sample, ner_reference,
                                                                                     tmp_path, monkeypatch, capsys):
    """Ctrl-C printed a traceback and lost the steps since the last save (up to --save-every); now the step in
    progress ends, the state is saved, one line says how to go on, exit 130."""
    real = resume.crash_point

    def ctrl_c_at_step_22(where, n):  # a real SIGINT, to this process, in the middle of epoch 2
        if (where, n) == ("step", 22):
            os.kill(os.getpid(), signal.SIGINT)
        real(where, n)
    monkeypatch.setattr(resume, "crash_point", ctrl_c_at_step_22)
    out = tmp_path / "interrupted"
    assert run_ner(conll_sample, out) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == ("stopped by Ctrl-C at step 22; its state is saved: "
                                                                "rerun the same command with --resume to continue")
    state = json.loads((out / same_run.STATE_DIR / resume.RECORD).read_text())
    assert (state["epoch"], state["batch"], state["step"]) == (1, 7, 22)  # saved at the step it stopped, not at 20
    monkeypatch.setattr(resume, "crash_point", real)
    assert run_ner(conll_sample, out, "--resume") == 0
    assert_same_run(out, ner_reference)


def test_ctrl_c_during_the_final_scoring_says_the_state_is_kept_and_a_resume_finishes_the_same_run(
        conll_sample, ner_reference, tmp_path, monkeypatch, capsys):
    """It said only "stopped by Ctrl-C", though the finished training's state was saved and --resume goes on
    from there; once the checkpoint is written, it names the checkpoint (and how to push it, if asked)."""
    real = training.finish

    def ctrl_c(*a, **k):  # Ctrl-C while the best epoch's weights are scored
        raise KeyboardInterrupt
    monkeypatch.setattr(training, "finish", ctrl_c)
    out = tmp_path / "scoring"
    assert run_ner(conll_sample, out) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "stopped by Ctrl-C; this training is done and its state is saved: rerun the same command with --resume to go "
        "on from there")
    monkeypatch.setattr(training, "finish", real)
    assert run_ner(conll_sample, out, "--resume") == 0
    assert_same_run(out, ner_reference)

    from zoo import cli, registry
    monkeypatch.setattr(registry, "publish", ctrl_c)  # Ctrl-C while the written checkpoint is pushed
    monkeypatch.setattr(cli, "hub_repo_arg", lambda v: v)  # no token or Hub needed to get there
    assert run_ner(conll_sample, tmp_path / "pushing", "--max-steps", "2", "--push-to-hub", "me/model") == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"stopped by Ctrl-C; the checkpoint is saved in {tmp_path / 'pushing'}; push it with: python -m zoo publish "
        f"{tmp_path / 'pushing'} --repo-id me/model")


def test_ctrl_c_during_the_last_validation_still_stops_and_a_resume_ends_the_run(tmp_path):
    """Pressed while a finished run validated, it was forgotten: sentiment trained its next candidate anyway."""
    from zoo import interrupt
    whole, summary = toy_fit(None)
    calls = []

    def validate(m):
        calls.append(1)
        if len(calls) == 3:  # the third epoch's, the last
            os.kill(os.getpid(), signal.SIGINT)
        return {"score": -sum(m.loss(b).item() for b in toy_batches(0))}
    # the last validation: training is done, and --resume only scores and saves (it said "to continue")
    with pytest.raises(interrupt.Interrupted, match="stopped by Ctrl-C; this training is done and its state is saved"):
        training.fit(Toy(), toy_batches, validate, "score", training.TrainConfig(epochs=3, save_every=2),
                     log=lambda s: None, state=tmp_path / "s")
    again, summary2 = toy_fit(tmp_path / "s", resume_run=True)
    assert summary2["history"] == summary["history"]
    for a, b in zip(whole.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_ctrl_c_ignored_by_the_shell_stays_ignored():
    from zoo import interrupt
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as for a job a script starts with &
    try:
        with interrupt.deferred() as asked:
            os.kill(os.getpid(), signal.SIGINT)
            assert not asked() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_second_ctrl_c_stops_at_once_and_the_handler_is_put_back():
    from zoo import interrupt
    before = signal.getsignal(signal.SIGINT)
    with interrupt.deferred() as asked:
        assert not asked()
        os.kill(os.getpid(), signal.SIGINT)
        assert asked()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


CTRL_C_AT_FIRST_IMPORT = """
import importlib.abc, os, runpy, signal, sys
class CtrlC(importlib.abc.MetaPathFinder):  # Ctrl-C as the script starts importing torch or tasks
    def find_spec(self, name, path, target=None):
        if name in ("torch", "tasks"):
            os.kill(os.getpid(), signal.SIGINT)
sys.meta_path.insert(0, CtrlC())
sys.argv = [sys.argv[1]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize("script", ["ner", "sentiment", "caption", "caption_decoding", "memory_profile", "what_if"])
def test_ctrl_c_while_a_script_imports_is_one_line_not_a_traceback(script):
    """The first 2-4 s of every run (torch, datasets, sklearn importing) answered Ctrl-C with a 40-line traceback."""
    r = subprocess.run([sys.executable, "-c", CTRL_C_AT_FIRST_IMPORT, f"train/{script}.py"], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stderr) == (130, "stopped by Ctrl-C\n")


def test_a_save_cut_by_a_second_ctrl_c_leaves_the_previous_state_and_no_half_written_files(tmp_path, monkeypatch):
    """A second Ctrl-C during the save the first one started left a 12 MB .tmp beside the state."""
    resume.save(tmp_path, {"w": torch.zeros(3)}, {"step": 4})
    before = sorted(p.name for p in tmp_path.iterdir())

    def ctrl_c(where, n):
        raise KeyboardInterrupt
    monkeypatch.setattr(resume, "crash_point", ctrl_c)  # after the tensors and the record are written, before the swap
    with pytest.raises(KeyboardInterrupt):
        resume.save(tmp_path, {"w": torch.ones(3)}, {"step": 8})
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    tensors, record = resume.load(tmp_path)
    assert record["step"] == 4 and torch.equal(tensors["w"], torch.zeros(3))


def test_a_run_killed_while_saving_its_state_keeps_the_previous_state_and_resumes(conll_sample, ner_reference, tmp_path):
    out = tmp_path / "killed"
    killed("train/ner.py", [*NER_TINY, "--data", str(conll_sample), "--out", str(out)], at="save:3")
    folder = out / same_run.STATE_DIR
    # killed after writing the step-12 state under temporary names, before state.json was renamed over
    assert (folder / f".{resume.RECORD}.tmp").is_file()
    tensors, record = resume.load(folder)
    assert record["step"] == 8 and "model.embed.words.weight" in tensors
    assert run_ner(conll_sample, out, "--resume") == 0
    assert json.loads((out / "config.json").read_text())["train"]["resumed_at_steps"] == [8]
    assert_same_run(out, ner_reference)


def test_a_sentiment_run_killed_in_its_second_pooling_candidate_resumes_to_the_same_result(tmp_path):
    for i, (name, n) in enumerate((("train", 400), ("validation", 80), ("test", 80))):
        write_split(tmp_path / "sst", name, *make_texts(n, seed=i))
    assert run_sentiment(tmp_path / "sst", tmp_path / "uninterrupted") == 0
    out = tmp_path / "killed"
    # saves 1-6 belong to the "final" candidate (2 epochs of 25 steps), 7-8 to "max": killed in its step-20 save
    killed("train/sentiment.py", [*SENTIMENT_TINY, "--data", str(tmp_path / "sst"), "--out", str(out)], at="save:8")
    assert resume.load(out / same_run.STATE_DIR / "final")[1]["done"]
    assert resume.load(out / same_run.STATE_DIR / "max")[1]["step"] == 10
    assert run_sentiment(tmp_path / "sst", out, "--resume") == 0
    assert_same_run(out, tmp_path / "uninterrupted")
    pools = json.loads((out / "config.json").read_text())["pool_selection"]["validation_accuracy"]
    assert pools == json.loads((tmp_path / "uninterrupted" / "config.json").read_text())["pool_selection"]["validation_accuracy"]


def test_ctrl_c_between_two_pooling_candidates_does_not_promise_that_resume_trains_nothing(tmp_path, monkeypatch,
                                                                                           capsys):
    """The first candidate done, the BiLSTM's second still to train: the line said --resume would go on "without
    training again", and it trains the second."""
    for i, (name, n) in enumerate((("train", 400), ("validation", 80), ("test", 80))):
        write_split(tmp_path / "sst", name, *make_texts(n, seed=i))
    real, calls = training.seed_everything, []

    def ctrl_c_at_the_second(seed):  # train/sentiment.py seeds each candidate before building it
        calls.append(seed)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(seed)
    monkeypatch.setattr(training, "seed_everything", ctrl_c_at_the_second)
    assert run_sentiment(tmp_path / "sst", tmp_path / "run") == 130
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith("stopped by Ctrl-C; this training is done") and "without training" not in line


# --- the state itself: checked before use, safetensors and JSON only -----------------------------------------

class Toy(torch.nn.Module):
    """A model with dropout, so resuming must restore torch's random generator to match."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.lin, self.drop = torch.nn.Linear(3, 1), torch.nn.Dropout(0.5)

    def loss(self, batch):
        x, y = batch
        return (self.lin(self.drop(x)) - y).square().mean()


def toy_batches(epoch):
    g = torch.Generator().manual_seed(epoch)
    return [(torch.randn(4, 3, generator=g), torch.randn(4, 1, generator=g)) for _ in range(5)]


def toy_fit(state, resume_run=False, log=lambda s: None, **cfg):
    model = Toy()
    validate = lambda m: {"score": -sum(m.loss(b).item() for b in toy_batches(0))}  # noqa: E731
    summary = training.fit(model, toy_batches, validate, "score", training.TrainConfig(**{"epochs": 3, "save_every": 2, **cfg}),
                           log=log, state=state, resume_run=resume_run)
    return model, summary


def stopped_at(state, step: int, monkeypatch) -> None:
    """A toy fit into state that stops (an exception, as a crash) at optimizer step `step`, its state kept."""
    class Crash(Exception):
        pass

    def crash(where, n):
        if (where, n) == ("step", step):
            raise Crash
    monkeypatch.setattr(resume, "crash_point", crash)
    with pytest.raises(Crash):
        toy_fit(state)
    monkeypatch.undo()


def test_resuming_restores_the_dropout_generator_and_the_place_in_the_batch_order(tmp_path, monkeypatch):
    whole, summary = toy_fit(None)
    stopped_at(tmp_path / "s", 7, monkeypatch)  # the last state: step 6, one batch into epoch 2
    resumed, summary2 = toy_fit(tmp_path / "s", resume_run=True)
    assert summary2["resumed_at_steps"] == [6] and summary2["steps"] == summary["steps"] == 15
    assert [h["validation"] for h in summary2["history"]] == [h["validation"] for h in summary["history"]]
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_a_state_record_is_strict_json_and_a_best_not_yet_scored_reads_back_as_minus_infinity(tmp_path, monkeypatch):
    # stopped at step 3, before the first validation: the run's best (and the LR scheduler's) is still -inf,
    # which json.dumps writes as -Infinity, not JSON (jq, a browser's JSON.parse refuse it)
    whole, summary = toy_fit(None)
    stopped_at(tmp_path / "s", 3, monkeypatch)  # the last state: step 2, in epoch 1

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    record = json.loads((tmp_path / "s" / resume.RECORD).read_text(), parse_constant=refuse)
    assert record["step"] == 2 and record["best"] == {"float": "-inf"} and record["scheduler"]["best"] == {"float": "-inf"}
    assert resume.load(tmp_path / "s")[1]["best"] == float("-inf")
    resumed, summary2 = toy_fit(tmp_path / "s", resume_run=True)
    assert summary2["resumed_at_steps"] == [2] and summary2["history"] == summary["history"]
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_a_state_written_with_minus_infinity_before_the_strict_form_still_resumes(tmp_path, monkeypatch):
    whole, summary = toy_fit(None)
    stopped_at(tmp_path / "s", 3, monkeypatch)  # before the first validation: the best is still -inf
    path = tmp_path / "s" / resume.RECORD
    path.write_text(json.dumps(resume.load(tmp_path / "s")[1]))  # as the earlier form wrote it: -Infinity
    assert '"best": -Infinity' in path.read_text()
    resumed, summary2 = toy_fit(tmp_path / "s", resume_run=True)
    assert summary2["resumed_at_steps"] == [2] and summary2["history"] == summary["history"]
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("spelled, reads", [("-Infinity", float("-inf")), ("inf", float("inf")), ("2.5", None),
                                            ("minus lots", None), (7, None)])
def test_a_float_json_cannot_write_reads_in_any_spelling_and_anything_else_there_is_a_state_error(tmp_path, spelled,
                                                                                                   reads):
    toy_fit(tmp_path / "s", epochs=1)
    path = tmp_path / "s" / resume.RECORD
    record = json.loads(path.read_text())  # as written: {"float": "-inf"}, kept as it is without the state's reader
    assert record["scheduler"]["mode_worse"] == {"float": "-inf"}
    record["scheduler"]["mode_worse"] = {"float": spelled}
    path.write_text(json.dumps(record))
    if reads is not None:
        assert resume.load(tmp_path / "s")[1]["scheduler"]["mode_worse"] == reads
    else:  # a dict where the scheduler wants a number failed at the first validation, with a traceback
        with pytest.raises(resume.StateError, match="is not a float that JSON cannot write"):
            toy_fit(tmp_path / "s", resume_run=True, epochs=1)


def test_a_state_is_safetensors_and_json_only_and_records_every_random_generator(tmp_path):
    toy_fit(tmp_path / "s")
    files = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert len(files) == 2 and files[1] == resume.RECORD and files[0].endswith(".safetensors")
    record = json.loads((tmp_path / "s" / resume.RECORD).read_text())
    assert record["done"] and set(record["rng"]) == {"python", "numpy"}
    tensors = load_file(str(tmp_path / "s" / files[0]))
    assert tensors["rng.torch"].dtype == torch.uint8 and {"model.lin.weight", "best.lin.weight", "optim.0.exp_avg"} <= set(tensors)


def test_a_state_whose_tensors_file_changed_is_refused(tmp_path):
    toy_fit(tmp_path / "s")
    path = next((tmp_path / "s").glob("state-*.safetensors"))
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(resume.StateError, match="sha256 differs"):
        toy_fit(tmp_path / "s", resume_run=True)


def test_resuming_a_state_saved_with_other_settings_is_refused(tmp_path):
    toy_fit(tmp_path / "s", lr=0.01)
    with pytest.raises(resume.StateError, match="lr 0.01 then, 0.02 now"):
        toy_fit(tmp_path / "s", resume_run=True, lr=0.02)
    toy_fit(tmp_path / "s", resume_run=True, lr=0.01, threads=1, save_every=3)  # these change nothing computed


def test_resume_without_a_saved_state_starts_from_the_beginning(tmp_path):
    lines = []
    _, summary = toy_fit(tmp_path / "none", resume_run=True, log=lines.append)
    assert lines[0].startswith("device cpu") and "no saved state" in lines[1] and summary["steps"] == 15


def test_resuming_a_finished_fit_returns_its_result_without_training(tmp_path):
    model, summary = toy_fit(tmp_path / "s")
    lines = []
    again, summary2 = toy_fit(tmp_path / "s", resume_run=True, log=lines.append)
    assert lines[0].startswith("device cpu, precision fp32") and "training had finished" in lines[1] and len(lines) == 2
    assert summary2["history"] == summary["history"] and summary2["resumed_at_steps"] == [15]
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)


def test_a_fresh_run_empties_old_state_and_a_resume_needs_the_same_flags(tmp_path):
    args = Namespace(data="d", hidden_size=16, lr=0.01, threads=1, save_every=4, resume=False, push_to_hub=None)
    folder = same_run.state_folder(args, tmp_path / "out")
    (folder / "stale").mkdir()
    assert not (same_run.state_folder(args, tmp_path / "out") / "stale").exists()
    assert same_run.state_folder(Namespace(**{**vars(args), "resume": True, "threads": 2}), tmp_path / "out") == folder
    with pytest.raises(resume.StateError, match="hidden_size: 16 then, 32 now"):
        same_run.state_folder(Namespace(**{**vars(args), "resume": True, "hidden_size": 32}), tmp_path / "out")


def test_resume_with_other_flags_is_one_error_line(conll_sample, tmp_path, capsys):
    same_run.state_folder(Namespace(**{**vars(_ner_args(conll_sample, tmp_path)), "hidden_size": 8}), tmp_path / "out")
    assert run_ner(conll_sample, tmp_path / "out", "--resume") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "hidden_size: 8 then, 16 now" in err


def test_resuming_another_scripts_state_names_both_runs_and_counts_the_rest(tmp_path):
    ner = Namespace(name="ner-lstm", data="d", hidden_size=16, lr=0.01, resume=False, push_to_hub=None,
                    **{f"ner_flag_{i}": i for i in range(12)})
    same_run.state_folder(ner, tmp_path / "out")
    sentiment = Namespace(name="sentiment-lstm", data="d", hidden_size=150, lr=0.001, resume=True, push_to_hub=None,
                          **{f"pool_flag_{i}": i for i in range(3)})
    with pytest.raises(resume.StateError) as e:
        same_run.state_folder(sentiment, tmp_path / "out")
    said = str(e.value)
    assert "saved by the run ner-lstm, not sentiment-lstm (" in said
    assert said.count(" then, ") == same_run.SHOWN_DIFFERENCES and "and 12 more" in said  # 2 + 12 + 3 differ, name aside
    assert said.endswith("resume with that run's flags (its --recipe or --arch), give this run another --out, or "
                         "--restart to discard ner-lstm's saved state")
    renamed = Namespace(**{**vars(ner), "name": "ner-lstm-2", "resume": True})  # the name alone differs
    with pytest.raises(resume.StateError, match=r"saved by the run ner-lstm, not ner-lstm-2; resume with that run's flags"):
        same_run.state_folder(renamed, tmp_path / "out")


def _ner_args(data, tmp_path):
    from train.ner import parse_args
    return parse_args([*NER_TINY, "--data", str(data), "--out", str(tmp_path / "out")])


def test_a_checkpoint_save_that_fails_midway_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    model = torch.nn.Linear(2, 2)
    checkpoint.save(tmp_path / "c", model, {"task": "ner"})
    before = {p.name: p.read_bytes() for p in (tmp_path / "c").iterdir()}

    def half_written(state, path, metadata=None):
        Path(path).write_bytes(b"\0" * 10)  # a few bytes, then the disk fills up
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoint, "save_file", half_written)
    with pytest.raises(OSError):
        checkpoint.save(tmp_path / "c", torch.nn.Linear(2, 2), {"task": "ner"})
    assert {p.name: p.read_bytes() for p in (tmp_path / "c").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]  # no temporary folder left behind
    checkpoint.load_weights(tmp_path / "c", torch.nn.Linear(2, 2))


def test_ctrl_c_while_a_checkpoint_is_swapped_in_waits_for_the_swap(tmp_path, monkeypatch):
    """Pressed between the two renames it left nothing at the folder (the state gone with the old one, the new
    checkpoint removed as a temporary folder): a --resume then trained from scratch without a word."""
    checkpoint.save(tmp_path / "c", torch.nn.Linear(2, 2), {"task": "ner"})
    real, renames = os.replace, []

    def ctrl_c_after_the_first(a, b):
        real(a, b)
        renames.append(b)
        if len(renames) == 1:
            os.kill(os.getpid(), signal.SIGINT)
    monkeypatch.setattr(checkpoint.os, "replace", ctrl_c_after_the_first)
    new = torch.nn.Linear(2, 2)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(tmp_path / "c", new, {"task": "ner"})
    assert len(renames) == 2  # the swap finished, then Ctrl-C was honoured
    loaded = torch.nn.Linear(2, 2)
    checkpoint.load_weights(tmp_path / "c", loaded)
    torch.testing.assert_close(loaded.weight, new.weight.half().float())


def test_weights_that_overflow_float16_stop_the_run_before_a_checkpoint_is_written(tmp_path):
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():
        model.weight[0, 0] = 1e6  # float16 tops out at 65504
    summary = {"config": {"seed": 1}, "best_epoch": 1, "steps": 1, "train_seconds": 0, "history": []}
    with pytest.raises(FloatingPointError, match="weight overflow torch.float16"):
        training.finish(model, {"metric": "f1", "name": "x", "task": "ner"}, summary, lambda split: {}, [],
                        tmp_path / "out", dtype="float16")
    assert not (tmp_path / "out").exists()


def test_weights_float16_cannot_hold_are_one_line_and_the_finished_run_saves_in_float32_on_resume(conll_sample, tmp_path,
                                                                                                  capsys):
    """The advice was --dtype float32, but a resume with it was refused as other flags, so the run was lost."""
    out = tmp_path / "huge"
    assert run_ner(conll_sample, out, "--lr", "1e9", "--max-steps", "3", "--dtype", "float16") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: weights ") and "--resume --dtype float32" in err and not (out / "config.json").exists()
    assert run_ner(conll_sample, out, "--lr", "1e9", "--max-steps", "3", "--dtype", "float32", "--resume") == 0
    assert "training had finished at step 3" in capsys.readouterr().err
    assert checkpoint.read_config(out)["train"]["steps"] == 3 and load_file(out / "model.safetensors")


def test_a_loss_gone_nan_is_one_line_saying_what_to_change(conll_sample, tmp_path, capsys):
    assert run_ner(conll_sample, tmp_path / "nan", "--lr", "1e38", "--no-crf", "--max-steps", "30") == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "Traceback" in line or line.startswith("error")]
    assert len(err) == 1 and err[0].startswith("error: loss is nan") and "lower --lr" in err[0]
