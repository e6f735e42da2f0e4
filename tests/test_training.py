"""The shared training machinery: batching, the loop's housekeeping, the scripts' error handling."""
import gc
import signal

import pytest
import torch
from torch import nn

from zoo import cli, data, training
from zoo.batching import pad


def test_pad_right_pads_every_row_to_the_longest():
    out = pad([[5, 6, 7], [8], []], value=0)
    assert out.dtype == torch.long and out.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert pad([[], []], value=3).tolist() == [[3], [3]]  # never a zero-width batch
    assert pad([]).shape == (0, 1)
    assert pad([(1, 2), [3]], value=-1).tolist() == [[1, 2], [3, -1]]  # tuples too
    assert pad([(4, 5)]).tolist() == [[4, 5]] and pad([[]], value=2).tolist() == [[2]]  # one row
    assert pad([[2**40, -7], [9]]).tolist() == [[2**40, -7], [9, 0]]  # any int64 id


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Linear(2, 1)

    def loss(self, batch):
        return (self.w(batch) ** 2).mean()


def test_fit_freezes_the_garbage_collector_while_it_trains_and_unfreezes_it_after():
    seen = []

    def validate(m):
        seen.append(gc.get_freeze_count())
        return {"score": -len(seen)}

    cfg = training.TrainConfig(epochs=2, patience=5, threads=0)
    training.fit(Tiny(), lambda epoch: [torch.randn(4, 2)], validate, "score", cfg, log=lambda s: None)
    assert all(n > 0 for n in seen) and gc.get_freeze_count() == 0

    def broken(m):
        raise RuntimeError("validation failed")
    with pytest.raises(RuntimeError):
        training.fit(Tiny(), lambda epoch: [torch.randn(4, 2)], broken, "score", cfg, log=lambda s: None)
    assert gc.get_freeze_count() == 0  # also when training fails


def test_fit_flushes_denormals_to_zero_while_it_trains_and_keeps_them_after():
    tiny_number = torch.tensor([1e-39])  # a float32 denormal
    if not torch.set_flush_denormal(True):
        pytest.skip("this CPU cannot flush denormals (no SSE3)")
    torch.set_flush_denormal(False)
    seen = []

    def validate(m):
        seen.append(float(tiny_number * 1.0))
        return {"score": -len(seen)}

    cfg = training.TrainConfig(epochs=2, patience=5, threads=0)
    training.fit(Tiny(), lambda epoch: [torch.randn(4, 2)], validate, "score", cfg, log=lambda s: None)
    assert seen == [0.0, 0.0]  # flushed inside fit
    assert float(tiny_number * 1.0) > 0  # and not after: inference keeps every tiny number


def test_fit_says_when_and_why_it_stops_before_the_last_epoch():
    scores = iter([0.5, 0.4, 0.3, 0.9, 0.9])
    lines = []
    cfg = training.TrainConfig(epochs=5, patience=2, threads=0)
    summary = training.fit(Tiny(), lambda epoch: [torch.randn(4, 2)], lambda m: {"score": next(scores)}, "score",
                           cfg, log=lines.append)
    assert summary["best_epoch"] == 1 and len(summary["history"]) == 3
    assert lines[-1] == "stopping after epoch 3 of 5: no better validation score in 2 epochs (--patience); keeping epoch 1"

    lines.clear()
    cfg = training.TrainConfig(epochs=5, patience=5, threads=0, max_steps=2)
    training.fit(Tiny(), lambda epoch: [torch.randn(4, 2)], lambda m: {"score": 1.0}, "score", cfg, log=lines.append)
    assert lines[-1] == "stopping at step 2 (--max-steps), at the end of epoch 2 of 5; keeping epoch 1"
    lines.clear()  # within the last epoch: it was said only before it ("best epoch: 1" on a third of an epoch)
    cfg = training.TrainConfig(epochs=1, patience=5, threads=0, max_steps=2)
    training.fit(Tiny(), lambda epoch: [torch.randn(4, 2)] * 3, lambda m: {"score": 1.0}, "score", cfg, log=lines.append)
    assert lines[-1] == "stopping at step 2 (--max-steps), 2 of 3 batches into epoch 1 of 1; keeping epoch 1"

    lines.clear()
    scores = iter([0.5, 0.4])
    training.fit(Tiny(), lambda epoch: [torch.randn(4, 2)], lambda m: {"score": next(scores)}, "score",
                 training.TrainConfig(epochs=5, patience=1, threads=0), log=lines.append)
    assert lines[-1] == "stopping after epoch 2 of 5: no better validation score in 1 epoch (--patience); keeping epoch 1"

    lines.clear()  # a run that uses all its epochs says nothing more
    training.fit(Tiny(), lambda epoch: [torch.randn(4, 2)], lambda m: {"score": 1.0}, "score",
                 training.TrainConfig(epochs=2, threads=0), log=lines.append)
    assert not any(line.startswith("stopping") for line in lines)


def test_the_recorded_command_leaves_out_resume_and_restart(monkeypatch):
    monkeypatch.setattr("sys.argv", ["train/ner.py", "--recipe", "ner-rnn", "--resume", "--out", "my run", "--rest"])
    assert cli.command_line() == "python train/ner.py --recipe ner-rnn --out 'my run'"
    monkeypatch.setattr("sys.argv", ["train/ner.py", "--recipe", "ner-rnn", "--resu", "--restart"])
    assert cli.command_line() == "python train/ner.py --recipe ner-rnn"
    for push in (["--push-to-hub", "me/ner"], ["--push-to-hub=me/ner"], ["--push", "me/ner"], ["--pu", "me/ner"]):
        monkeypatch.setattr("sys.argv", ["train/ner.py", *push, "--recipe", "ner-rnn"])
        assert cli.command_line() == "python train/ner.py --recipe ner-rnn"


def test_a_torchrun_runs_recorded_command_is_a_torchrun_command_with_its_process_count(monkeypatch):
    """The card told how to rerun a two-process run as one process: another batch order, another run."""
    monkeypatch.setattr("sys.argv", ["train/ner.py", "--recipe", "ner-rnn"])
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert cli.command_line() == "torchrun --nproc-per-node 2 train/ner.py --recipe ner-rnn"
    monkeypatch.setenv("WORLD_SIZE", "4")  # two machines of two
    assert cli.command_line() == "torchrun --nnodes 2 --nproc-per-node 2 train/ner.py --recipe ner-rnn"


def test_under_torchrun_one_rank_says_a_run_was_stopped(monkeypatch, capsys):
    """Every rank got Ctrl-C and every rank said so."""
    @cli.script
    def stopped(argv=None):
        raise KeyboardInterrupt
    for rank, said in (("1", ""), ("0", "stopped by Ctrl-C\n")):
        monkeypatch.setenv("RANK", rank)
        assert stopped([]) == 130
        assert capsys.readouterr().err == said


def test_a_script_stopped_by_ctrl_c_ignores_a_further_one_while_it_exits(capsys):
    """A second Ctrl-C just after the stop line printed Python's traceback. Only the program's own run (no argv)
    does this: a caller passing argv, as the tests do, keeps its handler."""
    @cli.script
    def stopped(argv=None):
        raise KeyboardInterrupt
    before = signal.getsignal(signal.SIGINT)
    try:
        assert stopped([]) == 130 and signal.getsignal(signal.SIGINT) is before
        assert stopped() == 130 and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_script_turns_user_errors_into_one_line_and_exit_2(capsys):
    @cli.script
    def main(argv=None):
        raise data.DataUnavailable("no data at nowhere; pass --data PATH")
    assert main([]) == 2
    assert capsys.readouterr().err == "error: no data at nowhere; pass --data PATH\n"

    @cli.script
    def buggy(argv=None):
        raise KeyError("a bug")
    with pytest.raises(KeyError):  # a bug keeps its traceback
        buggy([])


def test_every_bundled_model_has_one_recipe_that_its_script_accepts_and_the_docs_quote(tmp_path):
    import importlib
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "bench"))
    import zoo_cost
    recipes = cli.recipes()
    bundled = {p.name for p in (root / "zoo" / "checkpoints").iterdir() if (p / "config.json").exists()}
    assert set(recipes) == bundled
    docs = " ".join((root / "docs" / "training.md").read_text().split())  # columns aligned with spaces
    for name, recipe in recipes.items():
        assert zoo_cost.command(name) in docs, name  # the documented command, word for word
        args = importlib.import_module(f"train.{recipe['task']}").parse_args(["--recipe", name])
        assert args.name == name and args.out == f"runs/{name}"
        assert all(getattr(args, k) == v for k, v in recipe.items() if k != "task"), name
    argv = zoo_cost.argv("ner-rnn", tmp_path)
    assert argv[0] == sys.executable and argv[argv.index("--out") + 1] == str(tmp_path / "ner-rnn")


def test_every_recipes_dataset_is_one_the_model_cards_know():
    """zoo.card.DATASETS owns the Hub ids (and their licences); a recipe names one of them, and each task's
    default --data is its dataset's id there, so an id mistyped in a recipe cannot reach a model card."""
    from tasks import caption, ner, sentiment
    from zoo.card import DATASETS
    ids = {d["hub_id"] for d in DATASETS.values()}
    assert {r["data"] for r in cli.recipes().values()} <= ids
    assert {ner.HUB_DATA, sentiment.HUB_DATA, caption.HUB_DATA} <= ids


def test_a_flag_on_the_command_line_wins_over_the_recipe():
    from train import ner as train_ner
    args = train_ner.parse_args(["--recipe", "ner-bilstm", "--seed", "7", "--out", "elsewhere"])
    assert (args.arch, args.seed, args.out, args.name) == ("bilstm", 7, "elsewhere", "ner-bilstm")
    assert train_ner.parse_args(["--arch", "rnn"]).name == "ner-rnn"  # no recipe: named TASK-ARCH


def test_a_recipe_given_another_known_dataset_says_so_and_its_own_or_an_unknown_one_does_not(capsys):
    from train import ner as train_ner, sentiment as train_sentiment
    train_sentiment.parse_args(["--recipe", "imdb-rnn", "--data", "../shared/datasets/sst2"])
    note = capsys.readouterr().err
    assert "recipe imdb-rnn is for IMDB" in note and "reads as SST-2" in note and "at runs/imdb-rnn is named imdb-rnn" in note
    train_ner.parse_args(["--recipe", "ner-bilstm", "--data", "leondz/wnut_17", "--out", "runs/wnut"])
    assert "reads as WNUT 17" in capsys.readouterr().err
    train_sentiment.parse_args(["--recipe", "imdb-rnn", "--data", "/data/imdb/"])  # a copy of the recipe's own
    train_sentiment.parse_args(["--recipe", "sentiment-rnn", "--data", "my_reviews"])  # nothing known to compare
    train_sentiment.parse_args(["--data", "../shared/datasets/imdb"])  # no recipe
    assert capsys.readouterr().err == ""


def test_a_hub_dataset_with_a_loading_script_is_read_from_its_parquet_export(monkeypatch, capsys):
    import datasets
    calls = []

    def load_dataset(path, revision=None, **kw):  # what datasets >= 4 does with a script repo (eriktks/conll2003)
        calls.append(revision)
        if revision is None:
            raise RuntimeError("Dataset scripts are no longer supported, but found conll2003.py")
        return datasets.DatasetDict({"train": datasets.Dataset.from_dict({"tokens": [["EU"]], "ner_tags": [[3]]})})

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the dataset_info call for the revision must not wait on a network
    ds, source = data.load("eriktks/conll2003")
    assert calls == [None, data.PARQUET_REVISION] and ds["train"]["tokens"] == [["EU"]]
    assert source["hub_id"] == "eriktks/conll2003" and source["export"] == data.PARQUET_REVISION
    err = capsys.readouterr().err
    assert err.startswith("loading eriktks/conll2003 from the Hugging Face Hub...") and "parquet export" in err


def _no_dns(monkeypatch, proxy: str | None = None):
    """The Hub's host does not resolve, as on a machine without a network; no proxy unless given."""
    import socket
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY",
                "no_proxy", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    if proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy)

    def no_dns(host, *args, **kw):
        raise socket.gaierror(-2, "Name or service not known")
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)


def test_where_the_hub_does_not_resolve_an_uncached_dataset_fails_at_once_saying_so(monkeypatch):
    """datasets retried an unreachable Hub for about 25 s, then said "Couldn't reach"."""
    import time

    import datasets
    import huggingface_hub.constants
    _no_dns(monkeypatch)
    before = datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE
    t0 = time.monotonic()
    with pytest.raises(data.DataUnavailable, match="does not resolve .no network.., and no copy was found"):
        data.load("nobody/not-cached-anywhere")  # the real datasets code, in offline mode
    assert time.monotonic() - t0 < 10
    assert (datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE) == before


def test_where_the_hub_does_not_resolve_a_cached_copy_is_read_in_offline_mode(monkeypatch):
    import datasets
    import huggingface_hub.constants
    _no_dns(monkeypatch)
    seen = []

    def cached(path, revision=None, **kw):  # a copy in the datasets cache
        seen.append((datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE))
        return datasets.DatasetDict({"train": datasets.Dataset.from_dict({"sentence": ["ok"], "label": [1]})})
    monkeypatch.setattr(datasets, "load_dataset", cached)
    ds, source = data.load("nobody/cached")
    assert seen == [(True, True)] and ds["train"]["sentence"] == ["ok"] and source["revision"] is None


def test_a_proxy_for_the_hubs_scheme_resolves_names_itself_so_loading_stays_online(monkeypatch):
    import datasets
    _no_dns(monkeypatch, proxy="http://proxy.example:3128")
    seen = []
    monkeypatch.setattr(datasets, "load_dataset", lambda path, revision=None, **kw: seen.append(
        datasets.config.HF_HUB_OFFLINE) or datasets.DatasetDict({"train": datasets.Dataset.from_dict({"x": [1]})}))
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    data.load("nobody/through-a-proxy")
    assert seen == [False]


def test_other_hub_errors_are_not_retried(monkeypatch):
    import datasets
    calls = []

    def load_dataset(path, revision=None, **kw):
        calls.append(revision)
        raise ConnectionError("no route to host")

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    with pytest.raises(data.DataUnavailable, match="no route to host"):
        data.load("someone/something")
    assert calls == [None]


@pytest.mark.parametrize("name", ["ner-rnn", "sentiment-rnn", "ner-bilstm"])
def test_a_fused_optimizer_step_between_validations_is_seen_by_the_next_one(tmp_path, name):
    """Inference keeps results computed from the weights (the RNN's projected tables and transposed weight,
    the CRF's NumPy copies) under a key that torch's fused optimizers do not change; switching modes, as a
    training loop does between its steps and its validation, drops them."""
    import copy

    import zoo
    from app_models import write_models
    write_models(tmp_path, tasks=("ner", "sentiment"))
    p = zoo.load(tmp_path / name)
    texts = ["Peter visited Seoul , did n't he ?", "EU rejects German call to boycott British lamb ."]
    p.predict_batch(texts)  # the kept results are made here
    opt = training.optimizer(p.model, lr=0.5)  # fused
    p.model.train()
    _, batch = p.encode(texts[0])
    batch["tags" if name.startswith("ner") else "labels"] = torch.ones(batch["words"].shape, dtype=torch.long) \
        if name.startswith("ner") else torch.tensor([1])
    for _ in range(3):
        p.model.loss(batch).backward()
        opt.step()
        opt.zero_grad()
    p.model.eval()
    fresh = copy.deepcopy(p)  # the same weights, nothing kept
    for m in fresh.model.modules():
        for k in getattr(m, "WEIGHT_RESULTS", ()):  # every module's kept results, by the names it declares
            m.__dict__.pop(k, None)
    assert p.predict_batch(texts, scores=True) == fresh.predict_batch(texts, scores=True)


def test_the_zoos_optimizer_drops_kept_results_after_each_step_even_in_eval_mode(tmp_path):
    """Fine-tuning without dropout (eval mode throughout) switches no mode; the optimizer's step hook drops
    what inference kept from the weights."""
    import copy

    import zoo
    from app_models import write_models
    write_models(tmp_path, tasks=("sentiment",))
    p = zoo.load(tmp_path / "sentiment-rnn")
    texts = ["a gorgeous , witty , seductive movie .", "not bad at all"]
    before = p.predict_batch(texts)  # the projected tables are kept here
    opt = training.optimizer(p.model, lr=0.5)
    _, batch = p.encode(texts[0])
    batch["labels"] = torch.tensor([0])
    p.model.loss(batch).backward()  # eval mode: no dropout, no mode switch
    opt.step()
    fresh = copy.deepcopy(p)
    for m in fresh.model.modules():
        m.__dict__.pop("_tables", None)
        m.__dict__.pop("_steps_copies", None)
    assert p.predict_batch(texts) == fresh.predict_batch(texts) != before


def test_zoo_imports_without_torch_and_its_submodules_stay_reachable_as_attributes():
    """A training script's first line (from zoo import interrupt) must not wait for torch; code written for the
    eager package (import zoo, then zoo.registry...) still works."""
    import subprocess
    import sys
    code = ("import sys, zoo; from zoo import interrupt; assert 'torch' not in sys.modules; "
            "assert zoo.registry.BUNDLED.is_dir() and zoo.ModelNotFound is zoo.checkpoint.ModelNotFound; "
            "assert 'load' in dir(zoo)\n"
            "try: zoo.no_such_thing\nexcept AttributeError: pass\nelse: raise SystemExit('no error')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
