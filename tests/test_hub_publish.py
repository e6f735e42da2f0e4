"""The zoo's published side: model cards, publishing to the Hub (and --push-to-hub), the command line's
downloads and listing, and the manifest of the bundled checkpoints. The Hub is tests/fakehub.py on 127.0.0.1
(fixtures from tests/test_hub.py)."""
import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from huggingface_hub import ModelCard

import zoo
from test_hub import COMMAND, METRICS, REPO, ROOT, emissions, fake_hub, tiny_checkpoint, upload  # noqa: F401  (fixtures)
from zoo import card, cli, integrity, registry, training


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
    said = capsys.readouterr()
    line = json.loads(said.out.strip().splitlines()[-1])
    assert line["hub"].startswith(f"{fake_hub.url}/seqzoo-test/trained/commit/")
    assert f"publishing {tmp_path / 'run'} to Hub repo seqzoo-test/trained" in said.err  # what it waits on, if it waits
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
    assert main(["download", str(tiny_checkpoint)]) == 0  # a folder: verified, and said that nothing was fetched
    assert "is a local folder: nothing downloaded" in capsys.readouterr().err


def test_download_of_a_local_folder_named_like_org_repo_says_why_it_asked_the_hub(tiny_checkpoint, tmp_path,
                                                                                monkeypatch, capsys):
    """`download exp/ner-tiny` asked the Hub while zoo.load and predict read the folder exp/ner-tiny: the error
    said only that the Hub had no such repo."""
    from zoo.__main__ import main
    shutil.copytree(tiny_checkpoint, tmp_path / "exp" / "ner-tiny")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["download", "exp/ner-tiny"]) == 2
    assert ("download fetches Hub repos: to check the local folder zoo.load and predict read by that name, pass "
            "./exp/ner-tiny") in capsys.readouterr().err
    assert main(["download", "./exp/ner-tiny"]) == 0
    assert "./exp/ner-tiny is a local folder: nothing downloaded; it loads (a local folder records no digests to " \
        "check)" in capsys.readouterr().err  # it said "its files were checked": nothing was
    assert main(["download", "exp/ner-tiny/model.safetensors"]) == 2  # not ORG/REPO: the file, said to be one
    assert "exp/ner-tiny/model.safetensors is a file; a checkpoint is a folder" in capsys.readouterr().err


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


def test_list_says_which_bundled_folders_load_would_refuse_and_why(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    """A folder copied into zoo/checkpoints without `python -m zoo manifest` was listed as bundled, then refused by
    load; a changed file likewise. Both rows now say so; a recorded one stays plain "bundled"."""
    from zoo.__main__ import main
    root = tmp_path / "checkpoints"
    shutil.copytree(tiny_checkpoint, root / "ner-tiny")
    shutil.copytree(tiny_checkpoint, root / "ner-changed")
    integrity.write_manifest(root)
    shutil.copytree(tiny_checkpoint, root / "ner-unrecorded")
    (root / "ner-changed" / "tokenizer.json").write_text("{}")
    monkeypatch.setattr(registry, "BUNDLED", root)
    monkeypatch.setattr("zoo.hub.cached_checkpoints", lambda: [])
    assert main(["list", "--json"]) == 0
    where = {r["name"]: r["where"] for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert where["ner-tiny"] == "bundled"
    assert where["ner-unrecorded"].startswith("bundled, load refuses it: not in ") and "python -m zoo manifest" in \
        where["ner-unrecorded"]
    assert where["ner-changed"] == "bundled, load refuses it: tokenizer.json: sha256 differs from the manifest " \
        "(file changed or corrupt; if the change is intended, run `python -m zoo manifest`)"
