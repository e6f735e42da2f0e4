"""The app on a phone's screen (390 px), in English and Korean, in a real headless browser."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from browser_page import app_page, needs_chromium  # noqa: E402
from test_app import server, tiny_models  # noqa: E402,F401  (the fixtures, shared)


@needs_chromium
@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
def test_on_a_phone_every_tab_is_in_sight_and_no_tab_scrolls_the_page_sideways(server, locale):
    """390 px: gradio's default hid all but one or two tabs behind "⋯"; the tables scroll inside themselves."""
    with app_page(server, height=844, width=390, locale=locale) as (page, expect):
        tabs = page.get_by_role("tab")
        expect(tabs.first).to_be_visible()
        assert tabs.count() == 7
        for i in range(tabs.count()):
            tab = tabs.nth(i)
            expect(tab).to_be_visible()
            box = tab.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, (locale, tab.inner_text(), box)
            tab.click()
            page.wait_for_timeout(300)
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= 390, (locale, tab.inner_text(), wide)
        if locale == "en-US":  # a figure keeps a readable 600 px and scrolls in its own box, from its left edge
            tabs.nth(4).click()
            page.locator("#memory-run").click()
            image = page.locator("#memory-chart img")
            expect(image).to_be_visible()
            box = page.evaluate("""(() => { const b = document.querySelector('#memory-chart .matplotlib');
                return [b.querySelector('img').clientWidth, b.scrollWidth, b.clientWidth, b.scrollLeft,
                        document.documentElement.scrollWidth]; })()""")
            assert box[0] == 600 and box[1] == 600 > box[2] and box[3] == 0 and box[4] <= 390, box


@needs_chromium
def test_on_a_phone_the_what_if_tables_formulas_keep_a_readable_column_and_the_table_scrolls_in_its_box(server):
    """Squeezed to ~90 px the column of formulas wrapped a word or two a line, rows 250 px tall."""
    with app_page(server, height=844, width=390) as (page, expect):
        page.get_by_role("tab", name="Why the cell").click()
        page.locator("#why-run").click()
        cell = page.locator("#why-table td:last-child").first
        expect(cell).to_be_visible()
        em = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#why-table td')).fontSize)")
        assert cell.bounding_box()["width"] >= 14 * em - 1, (cell.bounding_box(), em)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        # the answer on the text in sight, before the formulas (they pushed it off the screen)
        answer = page.locator("#why-table th", has_text="answer on your text").bounding_box()
        assert answer["x"] + answer["width"] <= 390, answer


@needs_chromium
def test_on_a_phone_each_shape_in_the_shapes_table_stays_on_one_line(server):
    """At 390 px the Korean page broke "(1, 2, 10)" over three lines, on the tab that teaches shapes."""
    with app_page(server, height=844, width=390, locale="ko-KR") as (page, expect):
        page.get_by_role("tab").nth(6).click()
        cells = page.locator("#shapes-out td:nth-child(2) code")
        expect(cells.first).to_be_visible()
        page.wait_for_timeout(300)  # the table as drawn, measured in one go (a box read while it redraws is None)
        heights = page.evaluate("Array.from(document.querySelectorAll('#shapes-out td:nth-child(2) code'))"
                                ".map((c) => c.getBoundingClientRect().height)")
        line = page.evaluate("parseFloat(getComputedStyle(document.querySelector('#shapes-out td code')).lineHeight)"
                             " || 1.5 * parseFloat(getComputedStyle(document.querySelector('#shapes-out td')).fontSize)")
        assert len(heights) >= 6 and max(heights) < 1.5 * line, (heights, line)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390


@needs_chromium
def test_on_a_phone_the_model_boxes_show_a_bilstms_whole_name(server):
    """At 390 px the inside tab's model box was 104 px wide and its arrow covered the name's end, "-bilst▾m"."""
    with app_page(server, height=844, width=390) as (page, expect):
        page.get_by_role("tab", name="Inside the cell").click()
        page.locator("#inside-model input").click()
        page.get_by_role("option", name="sentiment-bilstm").click()
        for tab, box in (("Inside the cell", "#inside-model"), ("Why the cell", "#why-model")):
            page.get_by_role("tab", name=tab).click()  # a tab's page is drawn when it is opened
            expect(page.locator(f"{box} input")).to_be_visible()
            width = page.evaluate(f"document.querySelector('{box} input').getBoundingClientRect().width")
            assert width >= 150, (box, width)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
