"""Devices, mixed precision and data-parallel training with torchrun (gloo on the CPU): two processes train
the tiny sample, rank 0 writes a loadable checkpoint, the gradients are averaged, and a killed 2-process run
resumes to the same weights. GPU tests run only where CUDA is."""
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file
from torch import nn

import zoo
from zoo import devices, distributed

ROOT = Path(__file__).resolve().parents[1]
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(args, tmp_path, env=None, nproc=2):
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1",
           f"--master_port={free_port()}", "train/ner.py", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def ner_args(data, out, *more):
    return ["--arch", "lstm", "--data", str(data), "--out", str(out), "--hidden-size", "16", "--word-dim", "16",
            "--char-filters", "8", "--batch-size", "8", "--epochs", "2", "--save-every", "2", "--threads", "1",
            "--device", "cpu", *more]


def test_two_processes_train_and_rank_0_writes_a_loadable_checkpoint(conll_sample, tmp_path):
    r = torchrun(ner_args(conll_sample, tmp_path / "ddp"), tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count('"model": "ner-lstm"') == 1  # one JSON line: rank 0's
    assert "2 processes" in r.stderr
    config = json.loads((tmp_path / "ddp" / "config.json").read_text())
    assert config["train"]["processes"] == 2 and config["train"]["precision"]["chosen"] == "fp32"
    p = zoo.load(tmp_path / "ddp")
    assert p.predict("Peter visited Seoul .")["tokens"]


def test_a_killed_two_process_run_resumes_to_the_weights_of_an_uninterrupted_one(conll_sample, tmp_path):
    whole = torchrun(ner_args(conll_sample, tmp_path / "whole"), tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]
    killed = torchrun(ner_args(conll_sample, tmp_path / "cut"), tmp_path, env={"SEQZOO_TEST_SIGKILL": "step:3"})
    assert killed.returncode != 0 and not (tmp_path / "cut" / "model.safetensors").exists()
    resumed = torchrun(ner_args(conll_sample, tmp_path / "cut", "--resume"), tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stderr
    assert (tmp_path / "cut" / "model.safetensors").read_bytes() == (tmp_path / "whole" / "model.safetensors").read_bytes()


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.w = nn.Linear(4, 3)

    def loss(self, batch):
        return ((self.w(batch["x"]) - batch["y"]) ** 2).mean()


def _one_step(rank, size, port, batch, out):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    distributed.setup(torch.device("cpu"))
    model = Toy()
    step = distributed.wrap(model, torch.device("cpu"))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    half = {k: v[rank::size] for k, v in batch.items()}  # each rank: B / size examples
    step(half).backward()
    opt.step()
    if rank == 0:
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, out)
    distributed.barrier()  # neither rank tears gloo down while the other still uses it (that aborted rank 1 at times)
    torch.distributed.destroy_process_group()


def test_two_ranks_with_half_a_batch_each_take_the_step_of_one_process_with_the_whole_batch(tmp_path):
    torch.manual_seed(1)
    batch = {"x": torch.randn(8, 4), "y": torch.randn(8, 3)}
    mp.spawn(_one_step, args=(2, free_port(), batch, str(tmp_path / "ddp.safetensors")), nprocs=2, join=True)
    model = Toy()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.loss(batch).backward()
    opt.step()
    ddp = load_file(tmp_path / "ddp.safetensors")
    for k, v in model.state_dict().items():
        assert (ddp[k] - v).abs().max() <= 1e-6, k


def test_each_rank_gets_a_disjoint_equal_share_of_the_epoch():
    batches = list(range(11))
    shares = [distributed.share(batches, r, 3) for r in range(3)]
    assert shares == [[0, 3, 6], [1, 4, 7], [2, 5, 8]]
    assert distributed.share(batches, 0, 1) == batches


def test_bf16_on_the_cpu_trains_a_step_with_a_finite_loss(conll_sample, tmp_path, capsys):
    from train.ner import main
    assert main(ner_args(conll_sample, tmp_path / "bf16", "--precision", "bf16", "--max-steps", "3")) == 0
    err = capsys.readouterr().err
    assert "precision bf16 (asked for)" in err
    assert json.loads((tmp_path / "bf16" / "config.json").read_text())["train"]["precision"]["chosen"] == "bf16"


def test_bf16_where_onednn_builds_no_bf16_lstm_runs_the_lstm_without_onednn_and_restores_it(monkeypatch):
    """On an AVX2 CPU, autocast's bf16 LSTM fails in oneDNN; inside devices.autocast oneDNN is off (the LSTM
    trains), and the switch comes back when the last of the nested or concurrent users leaves."""
    monkeypatch.setattr(devices, "onednn_bf16_lstm", lambda: False)
    cpu_dev = torch.device("cpu")
    assert torch.backends.mkldnn.enabled
    lstm, x = torch.nn.LSTM(4, 3, batch_first=True), torch.randn(2, 5, 4)
    with devices.autocast(cpu_dev, "bf16"):
        assert not torch.backends.mkldnn.enabled
        with devices.autocast(cpu_dev, "bf16"):
            loss = lstm(x)[0].float().square().sum()
        assert not torch.backends.mkldnn.enabled  # the outer user is still inside
    assert torch.backends.mkldnn.enabled
    loss.backward()
    assert torch.isfinite(lstm.weight_hh_l0.grad).all() and lstm.weight_hh_l0.grad.abs().sum() > 0
    monkeypatch.setattr(devices, "onednn_bf16_lstm", lambda: True)
    with devices.autocast(cpu_dev, "bf16"):
        assert torch.backends.mkldnn.enabled  # where oneDNN can, it stays on


def test_auto_precision_follows_the_cpus_own_flags(monkeypatch):
    from zoo import cpu
    chosen, why = devices.choose_precision("auto", torch.device("cpu"))
    assert chosen == ("bf16" if cpu.bf16_pays() else "fp32") and why
    for flags, want, said in [(("avx2",), "fp32", "no native bf16"), (("avx512f", "avx512_bf16"), "fp32", "no AMX"),
                              (("avx512f", "avx512_bf16", "amx_bf16"), "bf16", "AMX")]:
        monkeypatch.setattr(cpu, "flags", lambda flags=flags: flags)
        chosen, why = devices.choose_precision("auto", torch.device("cpu"))
        assert chosen == want and said in why


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_is_one_error_line(tmp_path):
    r = subprocess.run([sys.executable, "train/ner.py", "--arch", "rnn", "--data", str(tmp_path), "--device", "cuda"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: --device cuda: CUDA is not available")


def test_a_device_that_does_not_exist_is_refused_by_name():
    for bad in ("tpu", "cuda:x", "gpu0"):
        with pytest.raises(devices.DeviceUnavailable, match="--device"):
            devices.resolve(bad)
    assert devices.resolve("cpu") == torch.device("cpu")


def test_a_bad_device_is_named_as_the_caller_asked_for_it():
    import zoo
    with pytest.raises(devices.DeviceUnavailable, match=r"^device='tpu': choose auto"):
        zoo.load("sentiment-rnn", device="tpu")  # from Python: device=, not the command line's --device
    r = subprocess.run([sys.executable, "-m", "zoo", "predict", "sentiment-rnn", "--device", "tpu", "--input", "-"],
                       cwd=ROOT, capture_output=True, text=True, input="", timeout=300)
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1] == "error: --device tpu: choose auto, cpu, cuda, cuda:N or mps"


def test_load_with_device_none_means_the_default_as_precision_none_does():
    import zoo
    assert zoo.load("sentiment-rnn", device=None).predict("a fine film")["label"] in ("positive", "negative")


@needs_cuda
def test_a_cuda_run_trains_and_its_checkpoint_loads_on_the_cpu(conll_sample, tmp_path):
    from train.ner import main
    args = [a if a != "cpu" else "cuda" for a in ner_args(conll_sample, tmp_path / "gpu", "--max-steps", "5")]
    assert main(args) == 0
    assert zoo.load(tmp_path / "gpu").predict("Peter visited Seoul .")["tokens"]
