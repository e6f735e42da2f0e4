"""python -m zoo predict at its edges: the output file is the input, strings UTF-8 cannot hold, JSON that
Python reads but JSON does not, file names that look like globs, pipes, files that cannot be read, a long
run of blank lines before JSON, and an int8 export loaded as it is. Each case either writes a record for
every input (the rest go on) or refuses with one line, and nothing the user saved is lost."""
import json
import os
import shutil
from pathlib import Path

import pytest

import zoo
from zoo import integrity, predict_cli, predict_inputs
from zoo.__main__ import main

from serving_models import write_images
from test_predict_command import models  # noqa: F401  (the fixture: tiny checkpoints of every task)


def _records(raw: bytes) -> list[dict]:
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]  # strict UTF-8: no lone surrogates


def test_an_output_that_is_the_input_is_refused_and_the_input_kept(models, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("good movie\nbad movie\n")
    link = tmp_path / "link.txt"
    link.symlink_to(src)
    for out in (src, link):
        assert main(["predict", str(models / "sentiment-rnn"), "--input", str(src), "--output", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert "is the input file" in err and len(err.splitlines()) == 1
        assert src.read_text() == "good movie\nbad movie\n"


def test_an_output_that_is_one_of_the_images_or_any_image_is_refused_and_the_photo_kept(models, tmp_path, capsys):
    """A caption run's folder, glob or list of paths can hold the --output; JSON lines would replace a photo."""
    images = write_images(tmp_path / "photos", 2)
    renamed = tmp_path / "photos" / "holiday"  # an image whatever its name
    renamed.write_bytes(images[1].read_bytes())
    listing = tmp_path / "list.txt"
    listing.write_text(f"{images[0]}\n{renamed}\n")
    before = {p: p.read_bytes() for p in (*images, renamed)}
    for source, out in ((tmp_path / "photos", images[0]), (str(tmp_path / "photos" / "*.png"), images[1]),
                        (listing, renamed), (listing, tmp_path / "new.jpg")):
        assert main(["predict", str(models / "caption-lstm"), "--input", str(source), "--output", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"--output {out} is an image" in err[0], err
    assert all(p.read_bytes() == b for p, b in before.items()) and not (tmp_path / "new.jpg").exists()


def test_an_output_that_is_no_regular_file_is_written_not_read_and_text_starting_like_an_image_header_is_kept(
        models, tmp_path, capsys):
    """The image check reads an existing --output's first bytes: /dev/stdout or a FIFO would block that read
    forever, and "BM..." or "RIFF..." text is no bitmap or WebP."""
    import subprocess
    import sys
    src = tmp_path / "in.txt"
    src.write_text("good movie\n")
    run = subprocess.run([sys.executable, "-m", "zoo", "predict", str(models / "sentiment-rnn"), "--input", str(src),
                          "--output", "/dev/stdout"], capture_output=True, timeout=120)
    assert run.returncode == 0 and json.loads(run.stdout)["line"] == 1
    for text in ("BMI,height\n", "RIFF is a container format\n"):
        out = tmp_path / "notes.txt"
        out.write_text(text)
        assert main(["predict", str(models / "sentiment-rnn"), "--input", str(src), "--output", str(out)]) == 0
        assert json.loads(out.read_text())["line"] == 1


def test_a_full_disk_names_the_output_in_one_line(models, tmp_path, capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    src = tmp_path / "in.txt"
    src.write_text("good movie\n")
    assert main(["predict", str(models / "sentiment-rnn"), "--input", str(src), "--output", "/dev/full"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --output /dev/full: cannot write (No space left on device)"], err
    import subprocess
    import sys
    with open("/dev/full", "wb") as full:  # standard output there
        run = subprocess.run([sys.executable, "-m", "zoo", "predict", str(models / "sentiment-rnn"), "--input", str(src)],
                             stdout=full, stderr=subprocess.PIPE, timeout=120)
    assert run.returncode == 2
    assert run.stderr.decode().strip().splitlines() == ["error: standard output: cannot write (No space left on device)"]
    with open("/dev/full", "wb") as full:  # the other commands' result lines say it the same way
        run = subprocess.run([sys.executable, "-m", "zoo", "list"], stdout=full, stderr=subprocess.PIPE, timeout=120)
    assert run.returncode == 2
    assert run.stderr.decode().strip().splitlines() == ["error: standard output: cannot write (No space left on device)"]


def test_an_export_where_nothing_can_be_written_names_the_folder_asked_for(models, capsys):
    if not os.path.isdir("/proc"):
        pytest.skip("needs /proc (Linux), where no folder can be made")
    assert main(["export", str(models / "sentiment-rnn"), "--format", "onnx", "--out", "/proc/seqzoo-export"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write the export to /proc/seqzoo-export" in err[0] and "/proc/." not in err[0]


def test_an_output_that_cannot_be_written_and_an_input_folder_for_text_each_name_their_flag(models, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("good movie\n")
    model = str(models / "sentiment-rnn")
    for out, said in ((tmp_path, "cannot write there (Is a directory)"),
                      (tmp_path / "no" / "such" / "out.jsonl", "cannot write there (No such file or directory)")):
        assert main(["predict", model, "--input", str(src), "--output", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: --output {out}") and said in err[0], err
    assert main(["predict", model, "--input", str(tmp_path)]) == 2  # was "no such file"
    assert f"--input {tmp_path} is a folder; text models read a file or -" in capsys.readouterr().err


def test_a_text_file_whose_first_line_starts_with_a_brace_is_read_as_text(models, tmp_path, capsysbinary):
    src = tmp_path / "in.txt"
    src.write_text("{braces} are fun\nplain line\n")
    assert main(["predict", str(models / "sentiment-rnn"), "--input", str(src)]) == 0
    records = _records(capsysbinary.readouterr().out)
    assert len(records) == 2 and all("error" not in r for r in records)
    src.write_text('{"text": "good movie"}\n{"text": "bad movie"}\n')
    assert main(["predict", str(models / "sentiment-rnn"), "--input", str(src)]) == 0
    assert [r["line"] for r in _records(capsysbinary.readouterr().out)] == [1, 2]
    src.write_text('{"text": "good movie",}\n{"text": "bad movie"}\n')  # a broken first object: still JSON lines
    assert main(["predict", str(models / "sentiment-rnn"), "--input", str(src)]) == 1
    first, second = _records(capsysbinary.readouterr().out)
    assert "not a JSON object" in first["error"] and "positive" in second


def test_a_broken_json_line_is_said_as_json_says_it_with_its_column_once():
    from zoo import predict_inputs
    item = predict_inputs._json_item(3, '{"text": "broken json', ("text",))
    assert item.error == "not a JSON object (Unterminated string starting at: column 10)"  # was "at at column 10"
    assert predict_inputs._json_item(1, '{"text": }', ("text",)).error == "not a JSON object (Expecting value: column 10)"


def test_strings_utf8_cannot_hold_are_escaped_and_the_run_goes_on(models, tmp_path, capsysbinary):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "good", "id": "a\\ud800"}\n{"text": "Peter\\ud800Blackburn met EU officials"}\n'
                   '{"text": "bad movie"}\n', encoding="utf-8")
    for name in ("sentiment-rnn", "ner-bilstm"):
        main(["predict", str(models / name), "--input", str(src)])
        recs = _records(capsysbinary.readouterr().out)
        assert [r["line"] for r in recs] == [1, 2, 3]
        assert recs[0]["id"] == "a\ud800"  # written as the escape \ud800: JSON again, and valid UTF-8
        assert "error" not in recs[2]


def test_nan_infinity_and_overflowing_numbers_are_error_records_not_invalid_json(models, tmp_path, capsysbinary):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "good", "id": NaN}\n{"text": "good", "id": 1e999}\n{"text": "good", "id": -Infinity}\n'
                   '{"text": "good", "id": 1.5}\n')
    assert main(["predict", str(models / "sentiment-rnn"), "--input", str(src)]) == 1
    recs = _records(capsysbinary.readouterr().out)
    assert ["NaN" in recs[0]["error"], "too large" in recs[1]["error"], "-Infinity" in recs[2]["error"]] == [True] * 3
    assert recs[3]["id"] == 1.5 and "positive" in recs[3]


def test_an_answer_json_cannot_hold_becomes_an_error_record():
    line, bad = predict_cli.json_line({"line": 7, "positive": float("nan")})
    assert bad and json.loads(line) == {"line": 7, "error": "the answer holds NaN or an infinity, which JSON cannot"}


def test_an_existing_file_or_folder_with_glob_characters_is_taken_literally(models, tmp_path, capsys):
    folder = tmp_path / "shots [1]"
    images = write_images(folder, 2)
    assert main(["predict", str(models / "caption-lstm"), "--input", str(folder)]) == 0
    assert len(_records(capsys.readouterr().out.encode())) == 2
    assert main(["predict", str(models / "caption-lstm"), "--input", str(images[0])]) == 0
    assert [Path(r["image"]).name for r in _records(capsys.readouterr().out.encode())] == ["img0.png"]
    listing = tmp_path / "list[1].txt"
    listing.write_text(f"{images[1]}\n")
    assert main(["predict", str(models / "caption-lstm"), "--input", str(listing)]) == 0
    assert len(_records(capsys.readouterr().out.encode())) == 1


def test_a_pipe_is_read_as_a_file(models, capsys):
    r, w = os.pipe()
    os.write(w, b"good movie\nbad movie\n")
    os.close(w)
    try:
        assert main(["predict", str(models / "sentiment-rnn"), "--input", f"/dev/fd/{r}"]) == 0  # as <(...) gives
    finally:
        os.close(r)
    assert [rec["line"] for rec in _records(capsys.readouterr().out.encode())] == [1, 2]


def test_an_image_that_cannot_be_read_is_an_error_record_in_predict_batch(models, tmp_path, monkeypatch):
    images = write_images(tmp_path / "photos", 2)
    p = zoo.load(models / "caption-lstm")
    read_bytes = Path.read_bytes

    def denied(self):
        if self.name == "img1.png":
            raise PermissionError(13, "Permission denied")
        return read_bytes(self)
    monkeypatch.setattr(Path, "read_bytes", denied)
    got = p.predict_batch([str(images[0]), str(images[1])], errors="record")
    assert isinstance(got[0], list) and "Permission denied" in got[1]["error"]
    with pytest.raises(ValueError, match="cannot read"):
        p.predict(str(images[1]))


def test_json_lines_after_any_number_of_blank_lines_are_still_json_and_blank_lines_are_no_inputs(models, tmp_path,
                                                                                                capsys):
    """Blank lines in JSON lines (a trailing one is common) get no record and no failure; the record keeps its
    line number."""
    src = tmp_path / "blanks.jsonl"
    src.write_text("\n" * (predict_inputs.MAX_PENDING + 1) + '{"text": "terrible awful movie", "id": 1}\n\n \n')
    assert main(["predict", str(models / "sentiment-rnn"), "--input", str(src)]) == 0
    recs = _records(capsys.readouterr().out.encode())
    assert len(recs) == 1 and recs[-1]["line"] == predict_inputs.MAX_PENDING + 2
    assert recs[-1]["id"] == 1 and recs[-1]["positive"] == pytest.approx(
        zoo.load(models / "sentiment-rnn").predict("terrible awful movie")["positive"], abs=1e-5)


def test_output_dash_is_standard_output_not_a_file_named_dash(models, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("good movie\nbad movie\n")
    assert main(["predict", str(models / "sentiment-rnn"), "--input", "in.txt", "--output", "-"]) == 0
    assert [r["line"] for r in _records(capsys.readouterr().out.encode())] == [1, 2] and not (tmp_path / "-").exists()


def test_tokens_given_as_a_string_are_an_error_record_not_read_as_text(models, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"tokens": "EU rejects"}\n{"tokens": ["EU", "rejects"]}\n')
    assert main(["predict", str(models / "ner-lstm"), "--input", str(src)]) == 1
    bad, good = _records(capsys.readouterr().out.encode())
    assert "'tokens' must be a list of words, got str" in bad["error"] and [t["text"] for t in good["tokens"]] == ["EU", "rejects"]


def test_a_reader_that_stops_early_ends_the_run_quietly(models, tmp_path):
    import subprocess
    import sys
    src = tmp_path / "in.txt"
    src.write_text("good movie\n" * 5000)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "zoo", "predict", str(models / "sentiment-rnn"), "--input", str(src),
                             "--progress", "off"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert json.loads(proc.stdout.readline())["line"] == 1
    proc.stdout.close()  # as `| head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141 and "error" not in err and "Traceback" not in err, err


def test_a_reader_gone_in_process_returns_141_and_leaves_the_callers_stdout(models, tmp_path, monkeypatch):
    class Gone:  # a stdout without a file descriptor whose reader went away
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            pass
    (tmp_path / "in.txt").write_text("good movie\n")
    monkeypatch.setattr("sys.stdout", Gone())
    assert main(["predict", str(models / "sentiment-rnn"), "--input", str(tmp_path / "in.txt")]) == 141


def test_an_output_inside_the_models_folder_is_refused_and_the_model_kept(models, tmp_path, capsys):
    """JSON lines over model.safetensors left a model that no longer loads; any file in its folder is refused."""
    model = tmp_path / "mine"
    model.mkdir()
    for f in (models / "sentiment-rnn").iterdir():
        (model / f.name).write_bytes(f.read_bytes())
    before = {f.name: f.read_bytes() for f in model.iterdir()}
    (tmp_path / "in.txt").write_text("good movie\n")
    (tmp_path / "link").symlink_to(model / "config.json")
    for out in (model / "model.safetensors", model / "new.jsonl", tmp_path / "link"):
        assert main(["predict", str(model), "--input", str(tmp_path / "in.txt"), "--output", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"--output {out} is inside the model's folder" in err[0], err
    assert {f.name: f.read_bytes() for f in model.iterdir()} == before
    assert zoo.load(model).predict("good movie")["label"] in ("positive", "negative")
    # another model's folder, a bundled one (it stopped loading); a checkout's, told by its manifest, so a failure
    # here leaves no file in this checkout's zoo/checkpoints
    bundled = tmp_path / "clone" / "zoo" / "checkpoints"
    shutil.copytree(models / "ner-rnn", bundled / "ner-rnn")
    integrity.write_manifest(bundled)
    other = bundled / "ner-rnn" / "preds.jsonl"
    assert main(["predict", str(model), "--input", str(tmp_path / "in.txt"), "--output", str(other)]) == 2
    assert "is inside the bundled models' folder" in capsys.readouterr().err and not other.exists()


def test_a_tilde_in_a_path_flag_is_the_home_folder_and_an_empty_path_is_refused(models, tmp_path, capsys, monkeypatch):
    """Bash leaves ~ alone after '=' (--out=~/x made a folder named '~'); '' was the current folder."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("good movie\n")
    assert main(["predict", str(models / "sentiment-rnn"), "--input=~/in.txt", "--output=~/out.jsonl"]) == 0
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 1
    assert main(["export", str(models / "sentiment-rnn"), "--out=~/exp"]) == 0
    assert (tmp_path / "exp" / "model.onnx").is_file() and not (tmp_path / "~").exists()
    capsys.readouterr()
    for args in (["predict", str(models / "caption-lstm"), "--input", ""], ["export", str(models / "sentiment-rnn"),
                 "--out", " "], ["evaluate", str(models / "sentiment-rnn"), "--data", ""]):
        with pytest.raises(SystemExit) as e:
            main(args)
        assert e.value.code == 2 and "is empty: give a path" in capsys.readouterr().err


def test_a_missing_photo_is_a_usage_error_whatever_its_name(models, tmp_path, capsys):
    for name in ("nope.png", "nope.txt"):
        assert main(["predict", str(models / "caption-lstm"), "--input", str(tmp_path / name)]) == 2
        assert f"--input {tmp_path / name}: no such file, folder or glob" in capsys.readouterr().err


def test_predict_and_evaluate_take_threads_and_refuse_a_bad_count(tmp_path, capsys):
    import torch
    src = tmp_path / "in.txt"
    src.write_text("a fine film .\n")
    before = torch.get_num_threads()
    try:
        assert main(["predict", "sentiment-rnn", "--input", str(src), "--threads", "2"]) == 0
        assert torch.get_num_threads() == 2  # the tests run with 1 (conftest.py)
    finally:
        torch.set_num_threads(before)
    for bad in ("-1", "two", "5000"):
        with pytest.raises(SystemExit) as e:
            main(["evaluate", "sentiment-rnn", "--data", str(tmp_path), "--threads", bad])
        assert e.value.code == 2 and "--threads" in capsys.readouterr().err


def test_plain_text_read_as_json_lines_says_how_to_read_it_as_text(models, tmp_path, capsys):
    (tmp_path / "in.txt").write_text("Peter visited Seoul .\n")
    assert main(["predict", str(models / "ner-rnn"), "--input", str(tmp_path / "in.txt"), "--format", "jsonl"]) == 1
    assert "a plain text line? --format text reads each line as a text" in _records(capsys.readouterr().out.encode())[0]["error"]
