"""The Hub cache and publishing at their edges: a cached file found changed on disk leaves no snapshot that
looks complete, an ONNX export is not published, and `python -m zoo list` skips a cached config that zoo.load
would refuse. The Hub is tests/fakehub.py on 127.0.0.1 (fixtures from tests/test_hub.py)."""
import json
import os
from pathlib import Path

import pytest

import zoo
from test_hub import REPO, fake_hub, go_offline, tiny_checkpoint, upload  # noqa: F401  (fixtures)
from zoo import hub, registry


def test_a_cached_file_changed_on_disk_leaves_the_snapshot_to_be_fetched_again(fake_hub, tiny_checkpoint, monkeypatch):
    upload(fake_hub, tiny_checkpoint)
    blob = Path(os.path.realpath(zoo.load(f"hf://{REPO}").folder / "tokenizer.json"))
    blob.write_text(blob.read_text() + " ")  # still a valid tokenizer: only the digest can tell
    go_offline(monkeypatch)
    with pytest.raises(zoo.IntegrityError, match="tokenizer.json did not match"):
        zoo.load(f"hf://{REPO}")
    with pytest.raises(zoo.HubUnavailable, match="python -m zoo download"):  # was "tokenizer.json: missing"
        zoo.load(f"hf://{REPO}")
    go_offline(monkeypatch, False)  # online again, the load fetches the whole snapshot
    assert zoo.load(f"hf://{REPO}").name == "ner-tiny"


def test_an_onnx_export_is_not_published(fake_hub, tiny_checkpoint, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from zoo.export import to_onnx
    monkeypatch.setenv("HF_TOKEN", "hf_fake_write_token")
    out = to_onnx(zoo.load(tiny_checkpoint), tmp_path / "exported")
    with pytest.raises(ValueError, match="is an ONNX export; publish the checkpoint it came from"):
        registry.publish(out, "seqzoo-test/exported")
    assert "seqzoo-test/exported" not in fake_hub.repos


def test_list_skips_a_cached_config_that_load_would_refuse(fake_hub, tiny_checkpoint, capsys):
    from zoo.__main__ import main
    upload(fake_hub, tiny_checkpoint)
    snap = zoo.load(f"hf://{REPO}").folder
    config = json.loads((snap / "config.json").read_text())
    (snap / "config.json").unlink()  # the cache's link, not the blob: a config edited in place
    (snap / "config.json").write_text(json.dumps({**config, "metrics": []}))
    assert [r for r, _ in hub.cached_checkpoints()] == []
    assert main(["list", "--json"]) == 0
    assert all("hub" not in json.loads(line)["where"] for line in capsys.readouterr().out.splitlines())


def test_download_asks_the_hub_even_where_a_local_folder_has_the_repos_path(fake_hub, tiny_checkpoint, tmp_path,
                                                                           monkeypatch, capsys):
    """A folder ./ORG/REPO used to be "downloaded": verified and reported, with nothing fetched or cached."""
    import shutil
    from zoo.__main__ import main
    upload(fake_hub, tiny_checkpoint)
    monkeypatch.chdir(tmp_path)
    shutil.copytree(tiny_checkpoint, tmp_path / REPO)
    sent = len(fake_hub.requests)
    assert main(["download", REPO]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert len(fake_hub.requests) > sent and Path(line["folder"]).resolve() != (tmp_path / REPO).resolve()
    assert main(["download", f"./{REPO}"]) == 0  # a path that cannot be a repo id is the folder, verified
    assert Path(json.loads(capsys.readouterr().out.strip().splitlines()[-1])["folder"]) == Path(f"./{REPO}")
