"""The zoo as a distribution: Hub download, cache, verification and offline use (cards, publishing and the
manifest: test_hub_publish.py). The Hub is tests/fakehub.py on 127.0.0.1; nothing leaves it."""
import json
import os
import socket
import time
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants

import zoo
from conftest import NER_LABELS, ner_sentences
from fakehub import FakeHub
from tasks import ner
from zoo import checkpoint, hub, integrity, registry

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


def test_a_hub_that_takes_the_connection_and_never_answers_is_an_error_not_a_hang(tmp_path, monkeypatch):
    """A listening socket that never answers (a broken proxy): the load waited with no end."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the connection; nobody reads the request or answers it
        point_hf_at(monkeypatch, f"http://127.0.0.1:{silent.getsockname()[1]}", tmp_path / "hf")
        monkeypatch.setattr(hub, "API_TIMEOUT", 1)
        start = time.monotonic()
        with pytest.raises(zoo.HubUnavailable, match="could not reach the Hub .*Timeout"):
            zoo.load(f"hf://{REPO}")
        assert time.monotonic() - start < 10


def test_a_push_that_cannot_reach_the_hub_does_not_suggest_offline_mode(tmp_path, monkeypatch, tiny_checkpoint):
    """Offline mode is a way on for a download (the cache), not for an upload: the hint said to set it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    point_hf_at(monkeypatch, url, tmp_path / "hf")
    monkeypatch.setenv("HF_TOKEN", "hf_fake_write_token")
    with pytest.raises(zoo.HubUnavailable, match="publishing to Hub repo .*could not reach the Hub") as e:
        registry.publish(tiny_checkpoint, REPO)
    assert "HF_ENDPOINT" in str(e.value) and "OFFLINE" not in str(e.value)


def test_a_push_to_a_hub_that_takes_the_connection_and_never_answers_is_an_error_not_a_hang(tmp_path, monkeypatch,
                                                                                            tiny_checkpoint):
    """huggingface_hub's create_repo / create_commit take no timeout: the push waited with no end."""
    from huggingface_hub.utils import get_session
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the connection; nobody reads the request or answers it
        point_hf_at(monkeypatch, f"http://127.0.0.1:{silent.getsockname()[1]}", tmp_path / "hf")
        monkeypatch.setenv("HF_TOKEN", "hf_fake_write_token")
        monkeypatch.setattr(hub, "UPLOAD_TIMEOUT", 1)
        start = time.monotonic()
        with pytest.raises(zoo.HubUnavailable, match="publishing to Hub repo .*could not reach the Hub .*Timeout"):
            registry.publish(tiny_checkpoint, REPO)
        assert time.monotonic() - start < 10
    # outside the push, huggingface_hub's client is as it was: a request of the user's own waits as they set it
    session = get_session()
    request = session.build_request("GET", "http://127.0.0.1:1/")
    for hook in session.event_hooks["request"]:
        hook(request)
    assert request.extensions["timeout"] == {"connect": None, "read": None, "write": None, "pool": None}


def test_an_uploads_bound_reaches_the_threads_that_send_its_files_and_spares_a_timeout_already_set():
    import threading
    from huggingface_hub.utils import get_session
    session, seen = get_session(), {}

    def send(name, **timeout):
        request = session.build_request("PUT", "http://127.0.0.1:1/", **timeout)
        for hook in session.event_hooks["request"]:
            hook(request)
        seen[name] = request.extensions["timeout"]
    with hub._bounded_requests(7):
        worker = threading.Thread(target=send, args=("pool",))  # huggingface_hub sends LFS files from a pool
        worker.start()
        worker.join()
        send("own", timeout=3)
    send("after")
    assert seen["pool"] == {"connect": 7, "read": 7, "write": 7, "pool": 7}
    assert seen["own"] == {"connect": 3, "read": 3, "write": 3, "pool": 3}
    assert seen["after"] == {"connect": None, "read": None, "write": None, "pool": None}


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
