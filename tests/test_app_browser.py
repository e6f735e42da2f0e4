"""The web app's pages in a real (headless) browser: the tiny checkpoints (tests/app_models.py) and, per
pattern tab, the bundled models."""
import re
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # app.py and webapp/ live at the repo root, outside the installed packages

from browser_page import BROWSER_ARGS, CHROMIUM, SHOTS, app_page, needs_chromium  # noqa: E402,F401
from test_app import NER_TEXT, server, tiny_models  # noqa: E402,F401  (the fixtures, shared)
from webapp import inside_views, models  # noqa: E402
from webapp.examples import NER_EXAMPLES  # noqa: E402


LONG_REVIEW = " ".join(["a long , slow film with one good scene ."] * 6)  # 60 words: more than the chart labels


def check_tab(page, expect, task: str, text: str, shot: str, key: str | None = None):
    """Type text in a pattern tab, press run (or `key` in the box), and find the three models' answers."""
    names = {"ner": "Many to many: named entities", "sentiment": "Many to one: sentiment"}
    page.get_by_role("tab", name=names[task]).click()
    box = page.locator(f"#{task}-text textarea")
    box.fill(text)
    if key:  # the callers check an answer only this text gives (the tags of its words, the chart's words)
        box.press(key)
        expect(box).to_have_value(text)  # the key ran the models, it did not add a line
    else:
        page.locator(f"#{task}-run").click()
    for arch in models.ARCHS:
        expect(page.locator(f"#{task}-card-{arch}")).to_contain_text(f"{task}-{arch}")
        expect(page.locator(f"#{task}-card-{arch}")).to_contain_text("parameters")
    page.screenshot(path=str(SHOTS / shot), full_page=True)


@needs_chromium
def test_page_shows_three_models_per_tab_and_the_inside_view(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    SHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 1100})
        page.set_default_timeout(60_000)
        elsewhere = []  # the page must work offline: nothing but the app's own server is asked for anything
        page.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:")) else elsewhere.append(r.url))
        page.goto(server)
        check_tab(page, expect, "ner", NER_TEXT, "app-ner.png", key="Enter")  # a one-line box: Enter runs
        for arch in models.ARCHS:
            expect(page.locator(f"#ner-{arch}")).to_contain_text("Blackburn")
        page.get_by_text(NER_EXAMPLES[0], exact=True).click()  # an example fills the box and runs the models
        expect(page.locator("#ner-text textarea")).to_have_value(NER_EXAMPLES[0])
        expect(page.locator("#ner-rnn")).to_contain_text("boycott")
        check_tab(page, expect, "sentiment", LONG_REVIEW, "app-sentiment-long.png")
        numbers = page.locator("#sentiment-chart-numbers")  # a long text: word numbers on x, words on hover
        expect(numbers.locator("svg g.mark-line path")).to_have_count(3)
        for said in ("word number", "P(positive)", "model"):  # titles, not gradio's raw "__i18n__{...}" metadata
            expect(numbers).to_contain_text(said)
        assert "__i18n__" not in numbers.inner_text()
        chart = page.locator("#sentiment-chart")  # drawn in the browser (vega), one line per model
        expect(chart).to_be_hidden()
        # a short text after a long one: the chart draws again, one line per model (it once went blank until a
        # reload, its x column changing type from positions to words)
        expect(page.locator("#sentiment-text")).to_contain_text("Shift+Enter runs")  # a review's box: Enter is a line
        check_tab(page, expect, "sentiment", "a gorgeous , witty movie .", "app-sentiment.png", key="Shift+Enter")
        expect(chart.locator("svg").first).to_be_visible()
        expect(chart).to_contain_text("BiLSTM (forward)")
        expect(chart).to_contain_text("4 witty")
        assert "__i18n__" not in chart.inner_text() and "P(positive)" in chart.inner_text()  # shown again: titles too
        expect(numbers).to_be_hidden()
        lines = chart.locator("svg g.mark-line path")
        expect(lines).to_have_count(3)
        page.screenshot(path=str(SHOTS / "app-sentiment.png"), full_page=True)  # now the short text's page
        assert all(len(d or "") > 20 for d in lines.evaluate_all("ps => ps.map(p => p.getAttribute('d'))"))

        page.get_by_role("tab", name="Inside the cell").click()
        expect(page.locator("#inside-row-h")).to_be_hidden()  # no six empty frames before the first trace
        expect(page.locator("#inside-text textarea")).to_have_value("a gorgeous , witty movie .")  # current input
        expect(page.locator("#inside-model input")).to_have_value("sentiment-lstm")  # its model, not the tagger
        expect(page.locator("#inside-direction input").first).to_be_disabled()  # an LSTM reads one way
        faded = page.locator("#inside-direction label").first.evaluate("l => getComputedStyle(l).opacity")
        assert float(faded) < 0.75  # and looks it: gradio drew a disabled choice as an enabled one
        page.locator("#inside-run").click()
        for part in inside_views.TRACE_PARTS:
            expect(page.locator(f"#inside-{part} img")).to_be_visible()
        page.screenshot(path=str(SHOTS / "app-inside.png"), full_page=True)
        page.locator("#inside-model input").click()  # a vanilla RNN: h alone, no empty boxes for parts it lacks
        page.get_by_role("option", name="sentiment-rnn").click()
        page.locator("#inside-run").click()
        expect(page.locator("#inside-notice")).to_contain_text("no cell state and no gates")
        expect(page.locator("#inside-h img")).to_be_visible()
        for part in inside_views.TRACE_PARTS[1:]:
            expect(page.locator(f"#inside-row-{part}")).to_be_hidden()

        page.get_by_role("tab", name="Long-term memory").click()
        page.locator("#memory-run").click()
        for chart in ("#memory-chart", "#memory-lifetime"):
            expect(page.locator(f"{chart} img")).to_be_visible()
        page.locator("#probe-run").click()
        expect(page.locator("#probe-chart img")).to_be_visible()
        expect(page.locator("#probe-table")).to_contain_text("imdb-lstm")
        page.screenshot(path=str(SHOTS / "app-memory.png"), full_page=True)
        for chart in ("#memory-chart", "#memory-lifetime", "#probe-chart"):  # drawn: a real picture, not a blank
            img = page.locator(f"{chart} img")
            assert img.evaluate("i => i.naturalWidth") > 300 and _ink(img.screenshot()) > 0.02, chart

        page.get_by_role("tab", name="Why the cell").click()
        page.locator("#why-run").click()
        expect(page.locator("#why-table")).to_contain_text("forget=1")
        expect(page.locator("#why-size img")).to_be_visible()
        page.locator("#right-run").click()
        expect(page.locator("#right-table")).to_contain_text("ner-bilstm")
        page.locator("#decoder-run").click()
        for part in inside_views.TRACE_PARTS:
            expect(page.locator(f"#decoder-{part} img")).to_be_visible()
        page.locator("#decoder-model").get_by_label("caption-rnn").check()
        page.locator("#decoder-run").click()
        for part in inside_views.TRACE_PARTS[1:]:
            expect(page.locator(f"#decoder-{part}")).to_be_hidden()
        expect(page.locator("#decoder-h img")).to_be_visible()
        page.screenshot(path=str(SHOTS / "app-why.png"), full_page=True)
        assert _ink(page.locator("#why-size img").screenshot()) > 0.02

        page.get_by_role("tab", name="Shapes").click()
        page.locator("#note-run").click()
        expect(page.locator("#note-out")).to_contain_text("Largest difference")
        page.screenshot(path=str(SHOTS / "app-note.png"), full_page=True)
        assert elsewhere == []

        ko = browser.new_page(locale="ko-KR", viewport={"width": 1280, "height": 800})
        ko.goto(server)
        expect(ko.get_by_role("tab", name="다대일 (Many to one): 감성 분류")).to_be_visible(timeout=60_000)
        ko.get_by_role("tab", name="다대일 (Many to one): 감성 분류").click()
        expect(ko.locator("#sentiment-text")).to_contain_text("Shift+Enter로 실행")  # the box's hint, translated
        ko.locator("#sentiment-run").click()  # the chart's titles and legend in Korean too
        ko_chart = ko.locator("#sentiment-chart")
        expect(ko_chart).to_contain_text("바닐라 RNN", timeout=60_000)
        for said in ("BiLSTM (앞 방향)", "P(긍정)", "모델", "단어"):
            expect(ko_chart).to_contain_text(said)
        assert "vanilla RNN" not in ko_chart.inner_text() and "P(positive)" not in ko_chart.inner_text()
        ko.locator("#sentiment-text textarea").fill(LONG_REVIEW)  # a long review, then the short text again
        ko.locator("#sentiment-run").click()
        ko_numbers = ko.locator("#sentiment-chart-numbers")
        expect(ko_numbers).to_contain_text("단어 번호", timeout=60_000)
        ko.locator("#sentiment-text textarea").fill("a gorgeous , witty movie .")
        ko.locator("#sentiment-run").click()
        expect(ko_chart).to_contain_text("4 witty", timeout=60_000)
        for said in ("P(긍정)", "모델", "단어"):
            expect(ko_chart).to_contain_text(said)
        assert "__i18n__" not in ko_chart.inner_text()
        ko.screenshot(path=str(SHOTS / "app-ko.png"))
        browser.close()


def _ink(png: bytes) -> float:
    """The share of a screenshot's pixels that are not near-white: a drawn chart has lines, labels and axes."""
    import io
    from PIL import Image
    gray = Image.open(io.BytesIO(png)).convert("L")
    return sum(1 for v in gray.tobytes() if v < 200) / (gray.width * gray.height)


@needs_chromium
@pytest.mark.parametrize("task, text", [
    pytest.param("ner", "EU rejects German call to boycott British lamb ."),
    pytest.param("sentiment", "a gorgeous , witty , seductive movie ."),
])
def test_page_with_the_bundled_models(task, text, monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    from webapp.texts import I18N
    from webapp.ui import build
    monkeypatch.delenv(models.ENV)  # the real zoo, not the tiny test models
    models.clear_cache()
    demo = build()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, i18n=I18N)
    SHOTS.mkdir(exist_ok=True)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
            page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 1100})
            page.set_default_timeout(60_000)
            page.goto(f"http://127.0.0.1:{port}/")
            check_tab(page, sync_api.expect, task, text, f"bundled-{task}.png")
            browser.close()
    finally:
        demo.close()
        models.clear_cache()


@needs_chromium
def test_an_empty_input_in_a_tab_with_two_views_gives_one_error_not_two(server):
    """The why tab's what-if table and cell-size chart, and the memory tab's two charts, run on one button:
    one error for an empty sentence, not the same message twice."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 1100})
        page.set_default_timeout(60_000)
        page.goto(server)
        for tab, box, run in (("Why the cell", "#why-text", "#why-run"), ("Long-term memory", "#memory-text", "#memory-run")):
            page.get_by_role("tab", name=tab).click()
            page.locator(f"{box} textarea").fill("   ")
            page.locator(run).click()
            toasts = page.locator('[data-testid="toast-body"]')
            sync_api.expect(toasts.first).to_be_visible()
            page.wait_for_timeout(1500)  # the second view's error, where there is one, comes a moment later
            said = " ".join(toasts.all_inner_texts())  # gradio groups errors in one toast: "Error (2)", both messages
            assert said.count("Please type some text first.") == 1, (tab, said)
            page.reload()
        browser.close()


@needs_chromium
def test_a_new_photo_clears_the_last_captions_and_an_example_photo_gets_its_own(server):
    """Under an error badge, the last photo's captions read as the new one's: a new photo clears them first,
    and an example photo's own run, which follows its change, still shows its captions."""
    with app_page(server) as (page, expect):
        page.get_by_role("tab", name="One to many: image captions").click()
        page.locator("#caption-run").click()
        captions = page.locator("#caption-lstm")
        scored = re.compile(r"\(-?\d+\.\d\d\)")  # a caption's score, as the list shows it
        expect(captions).to_contain_text(scored)
        page.locator("#caption-image button[aria-label='Remove Image']").click()
        expect(captions).not_to_contain_text(scored)  # cleared with the photo
        page.locator("button.gallery-item").nth(1).click()  # an example photo
        expect(captions).to_contain_text(scored)  # its own captions, not cleared by the change that filled it

@needs_chromium
def test_after_an_error_the_last_answers_are_gone_not_left_under_the_error_badges(server):
    """A text the models refuse left the last text's answers on the page, under gradio's "Error" badges, where
    they read as the answers to the text that failed; the error itself is the toast."""
    names = {"ner": "Many to many: named entities", "sentiment": "Many to one: sentiment"}
    with app_page(server) as (page, expect):
        for task in ("ner", "sentiment"):
            page.get_by_role("tab", name=names[task]).click()
            card = page.locator(f"#{task}-card-lstm")
            page.locator(f"#{task}-text textarea").fill(NER_TEXT)
            page.locator(f"#{task}-run").click()
            expect(card).to_contain_text("parameters")
            page.locator(f"#{task}-text textarea").fill("   ")
            page.locator(f"#{task}-run").click()
            expect(page.locator('[data-testid="toast-body"]').first).to_contain_text("Please type some text first.")
            expect(card).not_to_contain_text("parameters")
            expect(page.locator(f"#{task}-lstm")).not_to_contain_text("Blackburn" if task == "ner" else "positive")
            page.reload()
        page.get_by_role("tab", name="Why the cell").click()  # a view in two parts, after a check of its input
        page.locator("#why-run").click()
        table = page.locator("#why-table")
        expect(table).to_contain_text("answer on your text")
        page.locator("#why-text textarea").fill("   ")
        page.locator("#why-run").click()
        expect(page.locator('[data-testid="toast-body"]').first).to_be_visible()
        expect(table).not_to_contain_text("answer on your text")


@needs_chromium
def test_after_a_refused_text_the_sentiment_chart_goes_without_a_script_error_and_comes_back_with_the_next_answer(server):
    """Emptied to None after an error, the by-step chart threw in the browser ("Cannot read properties of null
    (reading 'offsetWidth')"); it is hidden instead, and the next answer shows it again."""
    with app_page(server) as (page, expect):
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.get_by_role("tab", name="Many to one: sentiment").click()
        chart, box = page.locator("#sentiment-chart"), page.locator("#sentiment-text textarea")
        page.locator("#sentiment-run").click()
        expect(page.locator("#sentiment-card-lstm")).to_contain_text("parameters")  # the first answer is in
        expect(chart).to_be_visible()
        box.fill("   ")
        page.locator("#sentiment-run").click()
        expect(page.locator('[data-testid="toast-body"]').first).to_contain_text("Please type some text first.")
        expect(chart).to_be_hidden()
        box.fill("a witty movie")
        page.locator("#sentiment-run").click()
        expect(chart).to_be_visible()
        page.wait_for_timeout(500)
        assert errors == []


@needs_chromium
@pytest.mark.parametrize("locale, title, message", [("ko-KR", "오류", "먼저 텍스트를 입력하세요."),
                                                    ("en-US", "Error", "Please type some text first.")])
def test_an_error_toast_is_titled_in_the_pages_language(server, locale, title, message):
    """gradio titles its toasts "Error" in English on every page (it ignores gr.Error's title)."""
    with app_page(server, locale=locale) as (page, expect):
        page.locator("#sentiment-text textarea").fill("   ")
        page.locator("#sentiment-run").click()
        toast = page.locator('[data-testid="toast-body"]').first
        expect(toast).to_contain_text(message)
        expect(toast.locator(".toast-title")).to_have_text(title)


@needs_chromium
def test_a_new_photo_in_the_decoder_view_hides_the_last_ones_caption_and_heatmaps(server):
    """They stayed under the new photo (or a broken one), where they read as its own, until the next run."""
    with app_page(server) as (page, expect):
        page.get_by_role("tab", name="Why the cell").click()
        page.locator("#decoder-run").click()
        expect(page.locator("#decoder-h img")).to_be_visible()
        caption = page.locator("#decoder-caption").inner_text()
        assert caption.strip()
        page.locator("#decoder-image button[aria-label='Remove Image']").click()
        for part in inside_views.TRACE_PARTS:
            expect(page.locator(f"#decoder-{part}")).to_be_hidden()
        expect(page.locator("#decoder-caption")).not_to_contain_text(caption.strip())


@needs_chromium
def test_a_notice_about_the_input_shows_under_it_above_the_answers(server):
    """A text cut to its first characters or mostly unknown words: said where it is read before the answers
    (it was below the chart, out of sight after a long paste)."""
    names = {"ner": "Many to many: named entities", "sentiment": "Many to one: sentiment"}
    with app_page(server, height=900) as (page, expect):
        for task in ("sentiment", "ner"):
            page.get_by_role("tab", name=names[task]).click()
            page.locator(f"#{task}-text textarea").fill("영화 정말 최고 movie")
            page.locator(f"#{task}-run").click()
            notice = page.locator(f"#{task}-notice")
            expect(notice).to_contain_text("outside the vocabulary")
            assert notice.bounding_box()["y"] < page.locator(f"#{task}-card-rnn").bounding_box()["y"], task


@needs_chromium
def test_a_text_sent_by_an_example_reaches_the_inside_tab_and_hides_the_last_trace(server):
    """The last trace stayed under a new text, model or direction, where it read as theirs; and an example's run
    did not send its text (the run button did)."""
    with app_page(server) as (page, expect):
        page.locator("#sentiment-text textarea").fill("   ")  # a run that fails sends nothing
        page.locator("#sentiment-run").click()
        expect(page.locator('[data-testid="toast-body"]').first).to_be_visible()
        page.get_by_role("tab", name="Inside the cell").click()
        expect(page.locator("#inside-model input")).to_have_value("ner-lstm")
        expect(page.locator("#inside-text textarea")).to_have_value(NER_EXAMPLES[0])
        page.locator("#inside-run").click()
        expect(page.locator("#inside-h img")).to_be_visible()
        page.get_by_role("tab", name="Many to many: named entities").click()
        page.get_by_text(NER_EXAMPLES[3][:30]).click()  # fills the box and runs the three models (shown cut)
        expect(page.locator("#ner-card-rnn")).to_contain_text("ner-rnn")
        page.get_by_role("tab", name="Inside the cell").click()
        expect(page.locator("#inside-text textarea")).to_have_value(NER_EXAMPLES[3])
        expect(page.locator("#inside-row-h")).to_be_hidden()  # the old sentence's heatmaps are gone
        page.locator("#inside-run").click()
        expect(page.locator("#inside-h img")).to_be_visible()
        page.locator("#inside-model input").click()  # another model: the last one's trace goes too
        page.get_by_role("option", name="ner-bilstm").click()
        expect(page.locator("#inside-row-h")).to_be_hidden()
