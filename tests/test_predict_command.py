"""python -m zoo predict: one JSON record per input in input order, an error record for a bad line (the rest
go on), the exit status, captions from a folder, a glob or a list of paths, and streaming."""
import os
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import zoo
from zoo import predict_cli, predict_inputs
from zoo.__main__ import main

from serving_models import write_caption_model, write_images, write_models

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = write_models(tmp_path_factory.mktemp("models"), tasks=("ner", "sentiment"))
    write_caption_model(root / "caption-lstm")
    return root


def _records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_the_predict_command_on_a_file_with_a_bad_line_writes_every_record_and_exits_non_zero(models, tmp_path, capsys):
    lines = ["Peter visited Seoul .", "EU rejects German call to boycott British lamb .", "", "not bad at all ."]
    src = tmp_path / "in.txt"
    src.write_bytes(("\n".join(lines[:2]) + "\n").encode() + b"\xff\xfe not utf-8\n" + ("\n".join(lines[2:]) + "\n").encode())
    out = tmp_path / "out.jsonl"
    rc = main(["predict", str(models / "sentiment-lstm"), "--input", str(src), "--output", str(out), "--batch-size", "2"])
    recs = _records(out.read_text())
    assert rc == 1
    assert [r["line"] for r in recs] == [1, 2, 3, 4, 5]  # one per input line, in order
    assert "not UTF-8" in recs[2]["error"] and "no words" in recs[3]["error"]  # the blank line has no words
    p = zoo.load(models / "sentiment-lstm")
    for r, text in zip([recs[0], recs[1], recs[4]], [lines[0], lines[1], lines[3]]):
        assert r["positive"] == pytest.approx(p.predict(text)["positive"], abs=1e-5)
    assert "5 input(s), 2 failed" in capsys.readouterr().err


def test_json_lines_read_text_or_tokens_and_echo_ids(models, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": "a", "text": "Peter visited Seoul ."}\n{"tokens": ["EU", "rejects", "it"]}\n'
                   '{"text": 3}\n{oops\n[1]\n{"words": []}\n', encoding="utf-8")
    rc = main(["predict", str(models / "ner-bilstm"), "--input", str(src), "--progress", "on"])
    out, err = capsys.readouterr()
    recs = _records(out)
    assert rc == 1 and len(recs) == 6
    assert "6/6" in err and "inputs" in err  # the bar, on stderr, with the file's line count as its total
    assert recs[0]["id"] == "a" and [t["text"] for t in recs[0]["tokens"]] == ["Peter", "visited", "Seoul", "."]
    assert [t["text"] for t in recs[1]["tokens"]] == ["EU", "rejects", "it"]
    assert "expected text" in recs[2]["error"] and "not a JSON object" in recs[3]["error"]
    assert "got list" in recs[4]["error"] and "no 'tokens' or 'text'" in recs[5]["error"]


def test_scores_adds_a_taggers_probabilities_as_predict_scores_true_does_and_changes_nothing_else(models, tmp_path,
                                                                                                      capsys):
    """The Python API gave a tagger's per-word tag probabilities (scores=True); the command had no way to."""
    import zoo
    src = tmp_path / "in.txt"
    src.write_text("Peter visited Seoul .\nEU rejects it\n", encoding="utf-8")
    assert main(["predict", str(models / "ner-bilstm"), "--input", str(src)]) == 0
    plain = _records(capsys.readouterr().out)
    assert main(["predict", str(models / "ner-bilstm"), "--input", str(src), "--scores"]) == 0
    scored = _records(capsys.readouterr().out)
    assert not any("scores" in t for r in plain for t in r["tokens"])
    tagger = zoo.load(models / "ner-bilstm")
    for rec, text in zip(scored, src.read_text().splitlines()):
        want = tagger.predict(text, scores=True)
        assert [t["tag"] for t in rec["tokens"]] == [t["tag"] for t in want["tokens"]]
        assert all(abs(sum(t["scores"].values()) - 1) < 1e-4 for t in rec["tokens"])
        assert all(abs(a["scores"][k] - b["scores"][k]) < 1e-5 for a, b in zip(rec["tokens"], want["tokens"]) for k in a["scores"])
    assert main(["predict", str(models / "sentiment-lstm"), "--input", str(src), "--scores"]) == 0  # theirs already
    assert {"label", "positive", "negative"} <= set(_records(capsys.readouterr().out)[0])


def test_the_progress_bar_ends_at_the_files_line_count_when_json_lines_skip_blank_lines(models, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "a fine film"}\n\n{"text": "dull"}\n\n\n', encoding="utf-8")
    rc = main(["predict", str(models / "sentiment-rnn"), "--input", str(src), "--progress", "on"])
    out, err = capsys.readouterr()
    assert rc == 0 and [r["line"] for r in _records(out)] == [1, 3]
    assert "5/5" in err and "2 input(s), 0 failed" in err  # not 2/5: blank lines are read, though no inputs


def test_captions_come_from_a_folder_a_glob_or_a_list_with_unreadable_images_as_error_records(models, tmp_path, capsys):
    images = write_images(tmp_path / "photos", 3)
    (tmp_path / "photos" / "broken.jpg").write_bytes(b"not an image at all")
    (tmp_path / "photos" / "notes.txt").write_text("not an image either")  # not an image suffix: not listed
    rc = main(["predict", str(models / "caption-lstm"), "--input", str(tmp_path / "photos")])
    recs = _records(capsys.readouterr().out)
    assert rc == 1 and [Path(r["image"]).name for r in recs] == ["broken.jpg", "img0.png", "img1.png", "img2.png"]
    assert "not an image" in recs[0]["error"] and all(isinstance(r["captions"][0]["caption"], str) for r in recs[1:])
    assert recs[1]["captions"] == zoo.load(models / "caption-lstm").predict(images[0])

    assert main(["predict", str(models / "caption-lstm"), "--input", str(tmp_path / "photos" / "img*.png")]) == 0
    assert [r["line"] for r in _records(capsys.readouterr().out)] == [1, 2, 3]

    listing = tmp_path / "list.txt"
    listing.write_text(f"{images[0]}\n{tmp_path / 'missing.png'}\n\n{images[2]}\n{tmp_path / 'photos'}\n")
    assert main(["predict", str(models / "caption-lstm"), "--input", str(listing)]) == 1
    recs = _records(capsys.readouterr().out)  # the blank line is no input, as in JSON lines
    assert [(r["line"], "error" in r) for r in recs] == [(1, False), (2, True), (4, False), (5, True)]
    assert "no image file" in recs[1]["error"] and "is a folder, not an image" in recs[3]["error"]


def test_predicting_streams_a_chunk_at_a_time(models):
    """The records of the first chunk come out before the input past it is read."""
    p = zoo.load(models / "sentiment-rnn")
    read = []

    def lines():
        for i in range(10_000):
            read.append(i)
            yield b"a fine film .\n"

    records = predict_cli.predict_stream(p, predict_inputs.line_items(lines(), ("text",)), batch_size=4)
    first = next(records)
    assert first["line"] == 1 and len(read) <= 4 * predict_cli.CHUNK_BATCHES + 1


def test_a_pipe_is_read_into_the_same_lines_as_a_file(monkeypatch):
    """PipeLines (stdin as a pipe or terminal) against read_lines: the same lines, an overlong one as None
    whether it ends the input or not, the last without its newline."""
    import io
    import threading

    monkeypatch.setattr(predict_inputs, "MAX_LINE_BYTES", 100_000)
    for raw in (b"a\n\nb c\n" + b"x" * 150_000 + b"\n" + b"y" * 100_000 + b"\nlast", b"z" * 250_000, b"", b"\n"):
        r, w = os.pipe()
        writer = threading.Thread(target=lambda: (os.write(w, raw) if raw else None, os.close(w)))
        writer.start()
        try:
            lines, ready = predict_inputs.lines_of(os.fdopen(r, "rb", closefd=False))
            assert ready is not None and list(lines) == list(predict_inputs.read_lines(io.BytesIO(raw)))
            assert ready()  # at the end: nothing to wait for
        finally:
            writer.join()
            os.close(r)


def test_a_pipe_is_ready_only_when_a_line_with_text_or_the_end_has_arrived():
    """ready() is what lets predict answer before more input comes: a blank line (no input in JSON lines) or half
    a line must not count, or the record before it waits for the next line."""
    r, w = os.pipe()
    try:
        lines, ready = predict_inputs.lines_of(os.fdopen(r, "rb", closefd=False))
        os.write(w, b'{"text": "a"}\n\n')
        assert ready() and next(lines) == b'{"text": "a"}\n'
        assert not ready()  # only a blank line is there
        os.write(w, b'{"te')
        assert not ready()  # half a line
        os.write(w, b'xt": "b"}\n')
        assert ready() and next(lines) == b"\n" and next(lines) == b'{"text": "b"}\n'
        os.close(w)
        w = None
        assert ready() and list(lines) == []  # the end: nothing to wait for
    finally:
        os.close(r)
        if w is not None:
            os.close(w)


def test_piped_inputs_are_answered_as_they_arrive_not_when_a_chunk_is_full(models):
    """A person typing, `tail -f`, a co-process: each line's record comes out before the next line is sent
    (it waited for 8 batches' worth of lines, or the end of the input)."""
    import queue
    import threading

    proc = subprocess.Popen([sys.executable, "-m", "zoo", "predict", str(models / "sentiment-rnn"), "--input", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = queue.Queue()
    threading.Thread(target=lambda: [out.put(line) for line in proc.stdout], daemon=True).start()
    try:
        for n, text in enumerate((b"a fine film .\n", b"dull .\n"), 1):
            proc.stdin.write(text)
            proc.stdin.flush()
            assert json.loads(out.get(timeout=30))["line"] == n  # with the input still open
        proc.stdin.close()
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()


def test_lines_that_cannot_be_read_are_error_records_in_their_place(monkeypatch, tmp_path):
    """Too long (read no further into memory than the limit), not UTF-8, nested too deep: each an error in its
    place. In JSON lines a blank line is no input (before the format is known too), in text an empty text. A
    byte-order mark is not text."""
    import io

    monkeypatch.setattr(predict_inputs, "MAX_LINE_BYTES", 20_000)
    raw = b"\n\xff\n" + b"x" * 30_000 + b"\n\xef\xbb\xbf{\"text\": \"fine\"}\n" + b"[" * 5_000 + b"\n\n"
    items = list(predict_inputs.line_items(predict_inputs.read_lines(io.BytesIO(raw)), ("text",)))
    assert [it.line for it in items] == [2, 3, 4, 5]
    assert "UTF-8" in items[0].error and "longer than 20,000" in items[1].error
    assert items[2].value == "fine" and items[2].error is None  # the mark at the start made no difference
    assert "not a JSON object" in items[3].error
    plain = list(predict_inputs.line_items(predict_inputs.read_lines(io.BytesIO(b"\n\nhello\n\n")), ("text",)))
    assert [(it.line, it.value, it.error) for it in plain] == [(1, "", None), (2, "", None), (3, "hello", None),
                                                               (4, "", None)]


@pytest.mark.parametrize("argv, message", [
    (["--input", "no/such/file.txt"], "no such file"),
    (["--input", "-", "--batch-size", "0"], "--batch-size must be from 1 to 4,096, got 0"),
    (["--input", "-", "--batch-size", "100000"], "--batch-size must be from 1 to 4,096, got 100,000"),
    pytest.param(["--input", "-", "--device", "cuda"], "cuda",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is here: --device cuda is no error")),
    (["--input", "-", "--device", "not-a-device"], "--device"),
])
def test_usage_errors_are_one_line_and_exit_2(models, capsys, argv, message):
    assert main(["predict", str(models / "ner-rnn"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and len(err.splitlines()) == 1


def test_python_m_zoo_predict_reads_stdin_and_writes_stdout(models):
    run = subprocess.run([sys.executable, "-m", "zoo", "predict", str(models / "ner-lstm"), "--input", "-"],
                         input="Peter visited Seoul .\nEU rejects it .\n", capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert [r["line"] for r in _records(run.stdout)] == [1, 2] and "Traceback" not in run.stderr


def test_an_image_given_where_lines_are_read_is_one_line_and_a_pipes_first_bytes_stay_its_first_line(models, tmp_path,
                                                                                                     capsys):
    """`cat photo.png | predict` gave an error record per "line" of the photo's bytes (1,820 for one photo)."""
    import subprocess
    import sys
    photo = write_images(tmp_path, 1)[0]
    for model, said in (("caption-lstm", "pass the image itself as --input PATH"), ("sentiment-rnn", "text models read text")):
        r = subprocess.run([sys.executable, "-m", "zoo", "predict", str(models / model), "--input", "-"],
                           input=photo.read_bytes(), capture_output=True, cwd=ROOT, timeout=300)
        err = r.stderr.decode().strip().splitlines()
        assert r.returncode == 2 and r.stdout == b"" and err == [f"error: standard input is an image; {err[0].split('; ', 1)[1]}"]
        assert said in err[0]
    assert main(["predict", str(models / "sentiment-rnn"), "--input", str(photo)]) == 2
    assert f"--input {photo} is an image; text models read text" in capsys.readouterr().err
    unnamed = tmp_path / "IMG_0001"  # a photo without an image's suffix: captioned, not read as a list of paths
    unnamed.write_bytes(photo.read_bytes())
    assert main(["predict", str(models / "caption-lstm"), "--input", str(unnamed)]) == 0
    assert _records(capsys.readouterr().out)[0]["image"] == str(unnamed)
    r = subprocess.run([sys.executable, "-m", "zoo", "predict", str(models / "sentiment-rnn"), "--input", "-"],
                       input=b"good\nbad movie\n", capture_output=True, cwd=ROOT, timeout=300)  # the head read first
    assert r.returncode == 0 and [json.loads(x)["line"] for x in r.stdout.splitlines()] == [1, 2]


def test_a_compressed_or_columnar_file_given_where_lines_are_read_is_one_line_naming_it(models, tmp_path, capsys):
    """A .gz of reviews gave hundreds of "not UTF-8" error records and a few predictions of its stray bytes."""
    import bz2
    import gzip

    import pyarrow as pa
    import pyarrow.parquet as pq
    texts = "".join(f"review {i} was good\n" for i in range(500)).encode()
    (tmp_path / "texts.gz").write_bytes(gzip.compress(texts))
    (tmp_path / "texts.bz2").write_bytes(bz2.compress(texts))
    pq.write_table(pa.table({"text": ["a good movie", "a bad one"]}), tmp_path / "texts.parquet")
    (tmp_path / "texts16.txt").write_bytes("a good movie\n".encode("utf-16"))
    (tmp_path / "texts32.txt").write_bytes("a good movie\n".encode("utf-32"))
    (tmp_path / "texts16le.txt").write_bytes("a good movie\n".encode("utf-16-le"))  # no byte-order mark
    for name, said in (("texts.gz", f"is gzip-compressed; predict reads lines of UTF-8 text (convert it: "
                                    f"--input <(zcat {tmp_path / 'texts.gz'}))"), ("texts.bz2", "is bzip2-compressed;"),
                       ("texts.parquet", "is a Parquet file; predict reads lines of UTF-8 text: write its text column "
                                         "as JSON lines first"), ("texts16.txt", "is UTF-16 text;"),
                       ("texts32.txt", "is UTF-32 text; predict reads lines of UTF-8 text (convert it: --input "
                                       "<(iconv -f UTF-32 -t UTF-8"), ("texts16le.txt", "is UTF-16LE text (no byte-order mark); predict reads lines of UTF-8 text (convert it: "
                                         "--input <(iconv -f UTF-16LE -t UTF-8")):
        for model in ("sentiment-rnn", "caption-lstm"):
            assert main(["predict", str(models / model), "--input", str(tmp_path / name)]) == 2
            said_out = capsys.readouterr()
            err = said_out.err.strip().splitlines()
            assert said_out.out == "" and len(err) == 1 and f"--input {tmp_path / name} {said}" in err[0], err


def test_text_that_starts_like_a_file_formats_mark_is_read_as_text(models, tmp_path, capsys):
    """"PAR1 ..." (a gene), "BZh ..." and "%PDF-1.7 is ..." are text lines, and one NUL in a text is its own."""
    lines = ["PAR1 activation in platelets was studied .", "BZh is what the kid said .", "%PDF-1.7 is a format .",
             "a NUL\x00 inside"]
    for line in lines:
        (tmp_path / "in.txt").write_text(line + "\n")
        assert main(["predict", str(models / "ner-rnn"), "--input", str(tmp_path / "in.txt")]) == 0, line
        assert len(_records(capsys.readouterr().out)) == 1


def test_beam_and_max_len_reach_a_caption_model_and_a_text_model_refuses_them(models, tmp_path, capsys):
    photos = write_images(tmp_path / "photos", 2)
    assert main(["predict", str(models / "caption-lstm"), "--input", str(tmp_path / "photos"),
                 "--beam", "1", "--max-len", "2"]) == 0
    p = zoo.load(models / "caption-lstm")  # its checkpoint decodes with beam 2, max_len 8
    assert [r["captions"] for r in _records(capsys.readouterr().out)] == \
        [p.predict(str(photo), beam=1, max_len=2) for photo in photos]
    assert main(["predict", str(models / "sentiment-rnn"), "--input", str(photos[0]), "--beam", "2"]) == 2
    assert capsys.readouterr().err.strip() == ("error: --beam and --max-len apply to caption models; "
                                               f"{models / 'sentiment-rnn'} is a sentiment model")
    for flag, value, said in (("--beam", "0", "--beam must be from 1 to 20, got 0"),
                              ("--max-len", "101", "--max-len must be from 1 to 100, got 101")):
        assert main(["predict", str(models / "caption-lstm"), "--input", str(photos[0]), flag, value]) == 2
        assert capsys.readouterr().err.strip() == f"error: {said}"  # one line, as --batch-size's


def test_a_folders_hidden_files_are_no_inputs_as_a_glob_skips_them(models, tmp_path, capsys):
    """macOS leaves "._photo.jpg" beside each photo on a shared drive: each was an error record."""
    photo = write_images(tmp_path / "photos", 1)[0]
    (photo.parent / f"._{photo.name}").write_bytes(b"\x00\x05\x16\x07 resource fork")
    assert main(["predict", str(models / "caption-lstm"), "--input", str(photo.parent)]) == 0
    assert [r["image"] for r in _records(capsys.readouterr().out)] == [str(photo)]


def test_what_a_folder_or_glob_passes_over_is_said_and_a_globs_folders_are_no_inputs(models, tmp_path, capsys):
    """A folder skipped notes.txt and its subfolders without a word, while a glob gave its folders error records."""
    photos = tmp_path / "photos"
    photo = write_images(photos, 1)[0]
    (photos / "notes.txt").write_text("x")
    write_images(photos / "sub", 1)
    assert main(["predict", str(models / "caption-lstm"), "--input", str(photos)]) == 0
    said = capsys.readouterr()
    assert [r["image"] for r in _records(said.out)] == [str(photo)]
    assert "note: 2 passed over, not images by their names or folders (not searched): notes.txt, sub/" in said.err
    assert main(["predict", str(models / "caption-lstm"), "--input", f"{photos}/**"]) == 1  # notes.txt: its record
    recs = _records(capsys.readouterr().out)
    assert [Path(r["image"]).name for r in recs] == ["img0.png", "notes.txt", "img0.png"]  # no folder among them
    assert main(["predict", str(models / "caption-lstm"), "--input", str(tmp_path)]) == 2  # images only below
    assert "no images there" in (err := capsys.readouterr().err) and "--input 'FOLDER/**/*.jpg' is" in err


def test_an_unquoted_glob_the_shell_expanded_is_one_line_saying_to_quote_it(models, tmp_path, capsys):
    """`--input photos/*.jpg` unquoted: argparse's usage and "unrecognized arguments: photos/img1.png ..."."""
    photos = write_images(tmp_path / "photos", 3)
    with pytest.raises(SystemExit) as stop:
        main(["predict", str(models / "caption-lstm"), "--input", *map(str, photos)])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1 and "the shell expanded an unquoted glob; quote it" in err[0]
    with pytest.raises(SystemExit):  # any other stray argument, or a path after another flag: argparse's own words
        main(["predict", str(models / "caption-lstm"), "--input", str(photos[0]), "--bogus"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["predict", str(models / "caption-lstm"), "--input", str(photos[0]), "--output", str(tmp_path / "o"),
              str(photos[1])])
    assert f"unrecognized arguments: {photos[1]}" in capsys.readouterr().err
