"""The zoo as a distribution: Hub download, cache, verification, offline use, publishing, model cards,
and the manifest of the bundled checkpoints. The Hub is tests/fakehub.py on 127.0.0.1; nothing leaves it."""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from huggingface_hub import ModelCard, constants

import zoo
from conftest import NER_LABELS, ner_sentences
from fakehub import FakeHub
from tasks import ner
from zoo import card, checkpoint, cli, hub, integrity, registry, training

ROOT = Path(__file__).resolve().parents[1]
REPO = "seqzoo-test/ner-tiny"
WORDS = ["Angela", "Merkel", "visited", "Seoul", "."]
METRICS = {"validation": {"f1": 71.5, "precision": 70.0, "recall": 73.1, "per_type": {"PER": {"f1": 80.0}}},
           "test": {"f1": 64.25, "precision": 60.5, "recall": 68.5, "per_type": {}}}
COMMAND = "python train/ner.py --arch lstm --hidden-size 8 --data eriktks/conll2003"


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A small NER checkpoint saved the way train/ner.py saves one (random weights are enough here)."""
    feat = ner.Featurizer.fit([tokens for tokens, _ in ner_sentences(40)], min_word_freq=1)
    config = {**ner.make_config("lstm", feat, NER_LABELS, dict(word_dim=8, char_filters=4, casing_dim=2),
                                data={"hub_id": "eriktks/conll2003"}, name="ner-tiny", hidden_size=8),
              "metrics": METRICS, "train": {"command": COMMAND, "best_epoch": 3, "steps": 120}}
    torch.manual_seed(0)
    return checkpoint.save(tmp_path_factory.mktemp("ckpt") / "ner-tiny", ner.build_model(config), config,
                           files={"tokenizer.json": feat.tokenizer.to_str()}, dtype=torch.float32)


def point_hf_at(monkeypatch, url: str, home: Path) -> None:
    """Send huggingface_hub to url with its cache under home: the environment for code that reads it now,
    and huggingface_hub.constants, which it read once at import."""
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    settings = {"HF_ENDPOINT": url, "HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub")}
    for var, value in settings.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))  # never a real login's token
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_PROGRESS_BARS", True)


def go_offline(monkeypatch, offline=True):
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    else:
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    server = FakeHub()
    point_hf_at(monkeypatch, server.url, tmp_path / "hf")
    yield server
    server.close()


def upload(server: FakeHub, folder: Path, repo_id=REPO, **extra: bytes) -> str:
    return server.commit(repo_id, {**{p.name: p.read_bytes() for p in folder.iterdir()}, **extra})


def emissions(predictor):
    return predictor.model(ner.collate([predictor.featurize(WORDS)]))


def assert_cache_holds_nothing_corrupt(name: str, repo_id=REPO):
    storage = hub.cache_dir() / ("models--" + repo_id.replace("/", "--"))
    for blob in (storage / "blobs").iterdir():
        assert not blob.name.endswith(".incomplete"), blob
        assert integrity.digest_matches(blob, blob.name), f"{blob} does not match its name"
    assert not [p for p in (storage / "snapshots").rglob(name)], f"{name} is still in a snapshot"


def test_hub_download_then_load_gives_the_original_outputs_and_fetches_no_code(fake_hub, tiny_checkpoint):
    upload(fake_hub, tiny_checkpoint, **{"modeling.py": b"import os; os.system('echo pwned')",
                                         "pytorch_model.bin": b"\x80\x04 a pickle"})
    original, fetched = zoo.load(tiny_checkpoint), zoo.load(f"hf://{REPO}")
    torch.testing.assert_close(emissions(fetched), emissions(original), rtol=0, atol=0)
    assert fetched.predict(" ".join(WORDS)) == original.predict(" ".join(WORDS))
    assert fetched.folder.is_relative_to(hub.cache_dir()) and fetched.folder.parent.name == "snapshots"
    assert sorted(p.name for p in fetched.folder.iterdir()) == ["README.md", "config.json", "model.safetensors",
                                                                "tokenizer.json"]
    assert not [p for _, p in fake_hub.requests if "modeling.py" in p or "pytorch_model.bin" in p]
    assert zoo.load(REPO).folder == fetched.folder  # ORG/REPO without hf:// resolves to the same snapshot


def test_second_load_is_served_from_the_cache_without_a_request(fake_hub, tiny_checkpoint):
    sha = upload(fake_hub, tiny_checkpoint)
    zoo.load(f"hf://{REPO}")
    sent = list(fake_hub.requests)
    # the first load went through the Hub's endpoints: model info, HEAD of resolve, the LFS redirect to the CDN
    assert any(p.startswith(f"/api/models/{REPO}/revision/main") for _, p in sent)
    assert ("HEAD", f"/{REPO}/resolve/main/config.json") in sent  # by the branch: huggingface_hub records its ref
    assert any(p.startswith("/cdn/") for _, p in sent)
    assert zoo.load(f"hf://{REPO}").folder.name == sha
    zoo.load(REPO)
    assert fake_hub.requests == sent


def test_a_repo_that_moves_on_during_a_download_is_refused_rather_than_mixed(fake_hub, tiny_checkpoint, monkeypatch):
    import huggingface_hub
    upload(fake_hub, tiny_checkpoint)
    real, calls = huggingface_hub.hf_hub_download, []

    def download_while_someone_pushes(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # after the first file, a new commit lands on the branch
            fake_hub.commit(REPO, {"README.md": b"# changed"})
        return real(*args, **kwargs)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download_while_someone_pushes)
    with pytest.raises(zoo.HubUnavailable, match="new commit while"):
        zoo.load(f"hf://{REPO}")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", real)
    assert zoo.load(f"hf://{REPO}").folder.name == fake_hub.repos[REPO]["refs"]["main"]  # the next try is whole


def test_offline_mode_loads_from_the_cache_and_names_what_is_missing(fake_hub, tiny_checkpoint, monkeypatch):
    upload(fake_hub, tiny_checkpoint)
    online = zoo.load(f"hf://{REPO}")
    sent = len(fake_hub.requests)
    go_offline(monkeypatch)
    offline = zoo.load(f"hf://{REPO}")
    torch.testing.assert_close(emissions(offline), emissions(online), rtol=0, atol=0)
    assert zoo.load(REPO, refresh=True).folder == online.folder  # `download` offline: the cache is the answer
    with pytest.raises(zoo.HubUnavailable, match="offline mode is on") as e:
        zoo.load("seqzoo-test/never-downloaded")
    assert "python -m zoo download seqzoo-test/never-downloaded` with" in str(e.value)
    with pytest.raises(zoo.HubUnavailable, match="download seqzoo-test/never-downloaded --revision v1.0`"):
        zoo.load("hf://seqzoo-test/never-downloaded@v1.0")  # the command fetches the revision asked for
    assert len(fake_hub.requests) == sent


@pytest.mark.parametrize("name", ["model.safetensors", "config.json"])  # an LFS file (sha256), a git file (blob id)
def test_corrupt_download_is_refused_and_nothing_corrupt_stays_cached(fake_hub, tiny_checkpoint, name):
    upload(fake_hub, tiny_checkpoint)
    fake_hub.tamper[name] = "flip"
    with pytest.raises(zoo.IntegrityError, match=f"{name}: downloaded bytes do not match the Hub's"):
        zoo.load(f"hf://{REPO}")
    assert_cache_holds_nothing_corrupt(name)
    fake_hub.tamper.clear()
    torch.testing.assert_close(emissions(zoo.load(f"hf://{REPO}")), emissions(zoo.load(tiny_checkpoint)))


@pytest.mark.parametrize("name", ["model.safetensors", "tokenizer.json"])
def test_truncated_download_is_refused_and_not_cached(fake_hub, tiny_checkpoint, name):
    upload(fake_hub, tiny_checkpoint)
    fake_hub.tamper[name] = "truncate"
    with pytest.raises(zoo.IntegrityError, match=f"{name}: truncated download"):
        zoo.load(f"hf://{REPO}")
    assert_cache_holds_nothing_corrupt(name)
    assert hub.cached(REPO) is None


def test_cached_file_changed_on_disk_is_caught_and_replaced(fake_hub, tiny_checkpoint, monkeypatch):
    upload(fake_hub, tiny_checkpoint)
    blob = Path(os.path.realpath(zoo.load(f"hf://{REPO}").folder / "model.safetensors"))
    data = blob.read_bytes()
    blob.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    go_offline(monkeypatch)
    with pytest.raises(zoo.IntegrityError, match="model.safetensors did not match the Hub's digest"):
        zoo.load(f"hf://{REPO}")
    assert not blob.exists()
    go_offline(monkeypatch, False)  # online again, the load fetches a good copy
    assert zoo.load(f"hf://{REPO}").name == "ner-tiny" and blob.read_bytes() == data


def test_missing_repo_is_model_not_found_listing_what_was_tried(fake_hub):
    with pytest.raises(zoo.ModelNotFound) as e:
        zoo.load("seqzoo-test/no-such-model")
    msg = str(e.value)
    assert not isinstance(e.value, zoo.HubUnavailable)
    assert "local folder seqzoo-test/no-such-model" in msg and "no such model repo (HTTP 404" in msg and fake_hub.url in msg


def test_missing_revision_is_model_not_found(fake_hub, tiny_checkpoint):
    upload(fake_hub, tiny_checkpoint)
    with pytest.raises(zoo.ModelNotFound, match="@v9 .*no such revision"):
        zoo.load(REPO, revision="v9")


def test_a_name_that_is_no_repo_id_never_reaches_the_hub(fake_hub):
    with pytest.raises(zoo.ModelNotFound, match="bundled model 'no-such-model'.*a Hub repo would be ORG/REPO"):
        zoo.load("no-such-model")
    assert fake_hub.requests == []


def test_unreachable_hub_is_a_clear_error_without_long_retries(tmp_path, monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    point_hf_at(monkeypatch, url, tmp_path / "hf")
    start = time.monotonic()
    with pytest.raises(zoo.HubUnavailable, match="could not reach the Hub") as e:
        zoo.load(f"hf://{REPO}")
    assert url in str(e.value) and "HF_HUB_OFFLINE=1" in str(e.value)
    assert time.monotonic() - start < 10


def test_plain_load_keeps_its_commit_while_refresh_and_revision_choose_one(fake_hub, tiny_checkpoint):
    first = upload(fake_hub, tiny_checkpoint)
    assert zoo.load(f"hf://{REPO}").name == "ner-tiny"
    config = json.loads((tiny_checkpoint / "config.json").read_text())
    second = fake_hub.commit(REPO, {"config.json": json.dumps({**config, "name": "ner-tiny-v2"}).encode()})
    assert zoo.load(f"hf://{REPO}").name == "ner-tiny"  # the cached snapshot, no question asked
    assert zoo.load(f"hf://{REPO}", refresh=True).folder.name == second
    assert zoo.load(f"hf://{REPO}").name == "ner-tiny-v2"  # main now names the new commit in the cache too
    assert zoo.load(REPO, revision=first).name == "ner-tiny"
    assert zoo.load(f"hf://{REPO}@{first}").folder.name == first


def test_every_saved_checkpoint_carries_a_model_card_with_hub_metadata(tiny_checkpoint):
    text = (tiny_checkpoint / "README.md").read_text()
    meta = ModelCard(text).data.to_dict()
    assert meta["library_name"] == "seqzoo" and meta["datasets"] == ["eriktks/conll2003"]
    assert meta["license"] == "other" and {"seqzoo", "ner", "lstm"} <= set(meta["tags"])
    results = {r["dataset"]["split"]: {m["type"]: m["value"] for m in r["metrics"]} for r in meta["model-index"][0]["results"]}
    assert results == {s: {k: v for k, v in m.items() if k != "per_type"} for s, m in METRICS.items()}
    assert "research use only" in text and COMMAND in text
    assert f'zoo.load("{tiny_checkpoint}")' in text


@pytest.mark.parametrize("source,license_", [({"path": "../shared/datasets/sst2"}, "unknown"),
                                             ({"hub_id": "stanfordnlp/imdb"}, "other"),
                                             ({"path": "/data/conll2003/"}, "other")])
def test_card_license_follows_the_training_data(source, license_):
    meta = card.metadata({"task": "sentiment", "arch": "rnn", "data": source})
    assert meta["license"] == license_ and meta["library_name"] == "seqzoo"


def test_caption_card_is_tagged_image_to_text_and_lists_decoding_settings_apart_from_metrics():
    config = {"task": "caption", "arch": "lstm", "name": "caption-lstm", "data": {"path": "../shared/datasets/flickr8k"},
              "decode": {"beam": 3, "max_len": 20, "alpha": 0.75},
              "metrics": {"test": {"bleu4": 18.8, "cider": 44.0, "beam": 3, "alpha": 0.75, "mean_length": 9.3}}}
    meta = card.metadata(config)
    assert meta["pipeline_tag"] == "image-to-text" and meta["datasets"] == ["jxie/flickr8k"]
    assert meta["metrics"] == ["bleu4", "cider"]  # beam, alpha and caption length are settings, not scores
    text = card.render(config, "caption-lstm")
    assert "An LSTM for image captioning" in text and "decoding: beam 3, max_len 20, alpha 0.75" in text
    assert "research use only" in text


def test_publish_creates_the_repo_with_a_generated_card_and_round_trips(fake_hub, tiny_checkpoint, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_fake_write_token")
    url = registry.publish(tiny_checkpoint, "seqzoo-test/published")
    files = fake_hub.files("seqzoo-test/published")
    assert url.startswith(f"{fake_hub.url}/seqzoo-test/published/commit/")
    assert sorted(files) == ["README.md", "config.json", "model.safetensors", "tokenizer.json"]
    assert files["model.safetensors"] == (tiny_checkpoint / "model.safetensors").read_bytes()
    readme = files["README.md"].decode()
    assert ModelCard(readme).data.library_name == "seqzoo" and 'zoo.load("hf://seqzoo-test/published")' in readme
    registry.publish(tiny_checkpoint, "seqzoo-test/published")  # an existing repo is updated, not an error
    assert len(fake_hub.repos["seqzoo-test/published"]["commits"]) == 2
    torch.testing.assert_close(emissions(zoo.load("hf://seqzoo-test/published")), emissions(zoo.load(tiny_checkpoint)))


def test_publish_without_a_token_is_refused_before_any_request(fake_hub, tiny_checkpoint):
    with pytest.raises(zoo.HubUnavailable, match="HF_TOKEN"):
        registry.publish(tiny_checkpoint, "seqzoo-test/published")
    assert fake_hub.requests == []


def test_push_to_hub_flag_is_checked_before_training(fake_hub, capsys):
    parser = cli.parser("a training script", "ner", "eriktks/conll2003")
    cli.parse(parser, [], "ner", training.TrainConfig())
    for value, why in (("seqzoo-test/x", "HF_TOKEN"), ("not a repo", "not a Hub repo id")):
        with pytest.raises(SystemExit):
            parser.parse_args(["--push-to-hub", value])
        assert why in capsys.readouterr().err


def test_push_to_hub_publishes_at_the_end_of_training(fake_hub, conll_sample, tmp_path, monkeypatch, capsys):
    from train.ner import main
    monkeypatch.setenv("HF_TOKEN", "hf_fake_write_token")
    assert main(["--arch", "rnn", "--data", str(conll_sample), "--out", str(tmp_path / "run"), "--epochs", "1",
                 "--max-steps", "2", "--hidden-size", "8", "--word-dim", "8", "--char-filters", "4",
                 "--dtype", "float32", "--push-to-hub", "seqzoo-test/trained"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["hub"].startswith(f"{fake_hub.url}/seqzoo-test/trained/commit/")
    pushed = fake_hub.files("seqzoo-test/trained")
    assert pushed["config.json"] == (tmp_path / "run" / "config.json").read_bytes()
    assert json.loads(pushed["config.json"])["train"]["options"]["push_to_hub"] == "seqzoo-test/trained"
    assert 'zoo.load("hf://seqzoo-test/trained")' in pushed["README.md"].decode()


def test_cli_downloads_lists_and_reports_errors_in_one_line(fake_hub, tiny_checkpoint, capsys):
    from zoo.__main__ import main
    upload(fake_hub, tiny_checkpoint)
    # a fresh process: huggingface_hub reads HF_ENDPOINT / HF_HUB_CACHE from the environment at import
    r = subprocess.run([sys.executable, "-m", "zoo", "download", REPO], capture_output=True, text=True, cwd=ROOT,
                       env={k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["files"] == ["README.md", "config.json", "model.safetensors", "tokenizer.json"]
    assert main(["list", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {"name": f"hf://{REPO}", "metric": "test f1 64.25"}.items() <= next(x for x in rows if "hub" in x["where"]).items()
    assert main(["download", "seqzoo-test/no-such-model"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "no such model repo" in err


def test_manifest_matches_the_bundled_checkpoints():
    assert integrity.read_manifest(registry.BUNDLED) == integrity.build_manifest(registry.BUNDLED), \
        "zoo/checkpoints changed without `python -m zoo manifest`"


def test_a_bundled_checkpoints_config_rewritten_by_a_script_still_loads_and_the_others_entries_stay(
        tiny_checkpoint, tmp_path, monkeypatch):
    """train/what_if.py and memory_profile.py rewrite config.json in place: for a bundled checkpoint that left
    the manifest behind, and the next zoo.load refused the model."""
    root = tmp_path / "checkpoints"
    shutil.copytree(tiny_checkpoint, root / "ner-tiny")
    shutil.copytree(tiny_checkpoint, root / "ner-other")
    integrity.write_manifest(root)
    monkeypatch.setattr(registry, "BUNDLED", root)
    pred = zoo.load("ner-tiny")
    other = integrity.read_manifest(root)["checkpoints"]["ner-other"]
    registry.rewrite_config(pred, {**pred.config, "what_if": {"metric": "f1", "scores": {"real": 1.0}}})
    assert zoo.load("ner-tiny").config["what_if"]["scores"] == {"real": 1.0}
    card = (root / "ner-tiny" / "README.md").read_text()
    assert 'zoo.load("ner-tiny")' in card and str(tmp_path) not in card  # the card names the model, not this machine's path
    assert integrity.read_manifest(root)["checkpoints"]["ner-other"] == other


def test_bundled_checkpoint_that_differs_from_the_manifest_is_refused(tiny_checkpoint, tmp_path, monkeypatch):
    root = tmp_path / "checkpoints"
    shutil.copytree(tiny_checkpoint, root / "ner-tiny")
    integrity.write_manifest(root)
    monkeypatch.setattr(registry, "BUNDLED", root)
    assert zoo.load("ner-tiny").name == "ner-tiny"
    weights = root / "ner-tiny" / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # still loads as safetensors: only the hash can tell
    with pytest.raises(zoo.IntegrityError, match="model.safetensors: sha256 differs from the manifest"):
        zoo.load("ner-tiny")
    weights.write_bytes(data)
    (root / "ner-tiny" / "extra.py").write_text("print('not part of the checkpoint')")
    with pytest.raises(zoo.IntegrityError, match="extra.py: not in the manifest"):
        zoo.load("ner-tiny")
    shutil.copytree(tiny_checkpoint, root / "ner-unrecorded")
    with pytest.raises(zoo.IntegrityError, match="ner-unrecorded: not in .*MANIFEST.json; run `python -m zoo manifest`"):
        zoo.load("ner-unrecorded")
