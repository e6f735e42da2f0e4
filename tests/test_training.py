"""The shared training machinery: batching, the loop's housekeeping, the scripts' error handling."""
import gc

import pytest
import torch
from torch import nn

from zoo import data, training
from zoo.batching import pad


def test_pad_right_pads_every_row_to_the_longest():
    out = pad([[5, 6, 7], [8], []], value=0)
    assert out.dtype == torch.long and out.tolist() == [[5, 6, 7], [8, 0, 0], [0, 0, 0]]
    assert pad([[], []], value=3).tolist() == [[3], [3]]  # never a zero-width batch
    assert pad([]).shape == (0, 1)
    assert pad([(1, 2), [3]], value=-1).tolist() == [[1, 2], [3, -1]]  # tuples too


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


def test_a_script_turns_user_errors_into_one_line_and_exit_2(capsys):
    @training.script
    def main(argv=None):
        raise data.DataUnavailable("no data at nowhere; pass --data PATH")
    assert main([]) == 2
    assert capsys.readouterr().err == "error: no data at nowhere; pass --data PATH\n"

    @training.script
    def buggy(argv=None):
        raise KeyError("a bug")
    with pytest.raises(KeyError):  # a bug keeps its traceback
        buggy([])


def test_the_zoo_cost_benchmark_runs_the_readme_training_commands_for_every_bundled_model(tmp_path):
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "bench"))
    import zoo_cost
    readme = (root / "README.md").read_text()
    assert all(cmd in readme for cmd in zoo_cost.COMMANDS.values())  # word for word
    bundled = {p.name for p in (root / "zoo" / "checkpoints").iterdir() if (p / "config.json").exists()}
    assert set(zoo_cost.COMMANDS) == bundled
    argv = zoo_cost.argv(zoo_cost.COMMANDS["ner-rnn"], tmp_path)
    assert argv[0] == sys.executable and argv[argv.index("--out") + 1] == str(tmp_path / "ner-rnn")
