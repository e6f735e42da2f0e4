"""The app's one-to-many tab: an image in, three decoders' captions out, and clear errors for bad files."""
import sys
from pathlib import Path

import gradio as gr
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# the app served in-process (with tiny text models; the caption models are the bundled ones)
from test_app import server, tiny_models  # noqa: E402,F401  (the fixtures, shared)
from browser_page import BROWSER_ARGS, CHROMIUM, SHOTS, needs_chromium, settled  # noqa: E402,F401
from webapp import captions, models  # noqa: E402

EXAMPLE = captions.example_image()


def test_examples_are_photos_shipped_by_an_installed_package():
    assert captions.example_images() and all(Path(p).is_file() for p in captions.example_images())


def test_one_image_gives_each_decoder_its_captions_with_scores():
    out = captions.caption(EXAMPLE, 3)
    assert len(out) == 7
    for i, arch in enumerate(models.ARCHS):
        lines = out[2 * i].splitlines()
        assert lines and lines[0].startswith("1. ") and "(-" in lines[0]  # best first, with its log-prob score
        assert f"caption-{arch}" in out[2 * i + 1] and "BLEU-4" in out[2 * i + 1]
        assert len(lines) <= 3  # beam 3: the BiLSTM's two decoders propose up to 6, the three best are shown
    assert "beam 3" in out[-1] and "ms" in out[-1]


def test_beam_one_gives_one_caption_for_every_model():
    out = captions.caption(EXAMPLE, 1)
    assert len(out[0].splitlines()) == 1  # the vanilla RNN: greedy, one caption
    assert len(out[4].splitlines()) == 1  # the BiLSTM: the best of its two directions' proposals, reranked together


def test_a_caption_that_ran_out_of_words_says_it_is_unfinished():
    hyps = [{"caption": " ".join(["dog"] * 20), "score": -1.0, "truncated": True}, {"caption": "a dog runs", "score": -2.0}]
    lines = captions._captions_markdown(hyps, 3, 20, "en").splitlines()
    assert "cut at 20 words" in lines[0] and "cut at" not in lines[1]
    assert "20단어에서 잘림" in captions._captions_markdown(hyps, 1, 20, "ko")


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("make,match", [
    (lambda d: None, "Upload an image"),
    (lambda d: _write(d / "notes.png", b"this is not an image"), "cannot be captioned"),
    (lambda d: _write(d / "cut.png", Path(EXAMPLE).read_bytes()[:2000]), "cannot be captioned"),
    (lambda d: str(d / "missing.png"), "cannot be captioned"),
])
def test_bad_files_are_clear_errors(tmp_path, make, match):
    with pytest.raises(gr.Error, match=match):
        captions.caption(make(tmp_path), 3)


def test_a_decompression_bomb_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(bomb)  # 400 million pixels in a small file
    with pytest.raises(gr.Error, match="cannot be captioned"):
        captions.caption(str(bomb), 3)


@pytest.mark.parametrize("beam", [0, 11, "wide", None])
def test_a_beam_out_of_range_is_a_clear_error(beam):
    with pytest.raises(gr.Error, match="beam width"):
        captions.caption(EXAMPLE, beam)


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK"])
def test_unusual_image_modes_get_captions(tmp_path, mode):
    path = tmp_path / f"img.{'jpg' if mode == 'CMYK' else 'png'}"
    Image.open(EXAMPLE).convert(mode).save(path)
    assert captions.caption(str(path), 2)[0].startswith("1. ")


def test_gradio_client_captions_an_uploaded_image(server):
    from gradio_client import Client, handle_file
    out = Client(server, verbose=False).predict(handle_file(EXAMPLE), 2, api_name="/caption")
    assert len(out) == 7 and out[0].startswith("1. ") and "caption-bilstm" in out[5]


@needs_chromium
def test_page_uploads_an_image_and_shows_three_captions(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    SHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 1100})
        page.set_default_timeout(60_000)
        page.goto(server)
        page.get_by_role("tab", name="One to many: image captions").click()
        settled(page, lambda: page.locator("#caption-image input[type=file]").set_input_files(EXAMPLE))
        page.locator("#caption-run").click()
        for arch in models.ARCHS:
            sync_api.expect(page.locator(f"#caption-card-{arch}")).to_contain_text(f"caption-{arch}")
            sync_api.expect(page.locator(f"#caption-{arch} li").first).to_be_visible()  # the captions, as a list
            # the model's name heads its column: the lists have no label and differ in length
            card, captions_box = page.locator(f"#caption-card-{arch}").bounding_box(), page.locator(f"#caption-{arch}").bounding_box()
            assert card["y"] < captions_box["y"], arch
        page.screenshot(path=str(SHOTS / "app-caption.png"), full_page=True)
        browser.close()


@pytest.mark.parametrize("make,said,english", [
    (lambda d: _write(d / "notes.png", b"this is not an image"), "이미지 파일이 아닙니다", False),  # nothing to add
    (lambda d: _write(d / "cut.png", Path(EXAMPLE).read_bytes()[:2000]), "이미지 데이터가 손상되었거나 잘렸습니다", None),
    (lambda d: str(d / "missing.png"), "그 경로에 이미지 파일이 없습니다", True),  # the path, after it
])
def test_a_refused_image_is_explained_in_korean_on_a_korean_page(tmp_path, make, said, english):
    from types import SimpleNamespace
    korean = SimpleNamespace(headers={"accept-language": "ko-KR,ko"})
    with pytest.raises(gr.Error) as e:
        captions.caption(make(tmp_path), 3, korean)
    assert "이 파일로는 캡션을 만들 수 없습니다: " + said in str(e.value) and e.value.title == "오류"
    if english is not None:  # the English reason follows only where it carries numbers or a path
        assert e.value.message.endswith(")" if english else said), e.value.message


@pytest.mark.parametrize("size,said", [
    ((8000, 8000, 1), "이미지가 8000x8000 = 64,000,000픽셀로 한도 50,000,000픽셀을 넘습니다"),
    ((20_000, 20_000, 1), "픽셀 수가 한도 50,000,000을 넘어 압축 폭탄일 수 있는 이미지라 거부했습니다"),
    ((7000, 7000, 16), "7000x7000 이미지를 풀려면 메모리가 "),
])
def test_an_image_over_a_limit_is_refused_in_korean_with_its_numbers_alone(tmp_path, size, said):
    """The Korean sentence was followed by the whole English one, for its numbers: four lines of toast on a phone."""
    from types import SimpleNamespace
    from png_samples import png
    w, h, depth = size
    with pytest.raises(gr.Error) as e:
        captions.caption(_write(tmp_path / "big.png", png(w, h, bit_depth=depth)), 3,
                         SimpleNamespace(headers={"accept-language": "ko-KR,ko"}))
    assert said in e.value.message and not any(w in e.value.message for w in ("image", "limit", "pixels")), e.value.message


def test_the_decoder_views_backward_heatmaps_are_in_writing_order_and_it_says_why_its_caption_can_differ():
    from webapp import why_views
    *figs, caption = why_views.inside_caption(EXAMPLE, "caption-bilstm", "backward")
    ax = figs[0].axes[0]
    assert ax.get_title(loc="left").endswith("caption-bilstm\nbackward decoder: writes right to left, columns in writing order")
    words = caption.split("**")[1].split()
    assert [t.get_text() for t in ax.get_xticklabels()] == [*reversed(words), "<eos>"]  # as said: last word first
    assert "the caption tab uses its slider's, so its caption can differ" in caption
