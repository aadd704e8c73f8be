"""The chat in a real browser: `python app.py` as a subprocess, driven with Playwright in headless Chromium.

Needs the Debian `chromium` package (/usr/bin/chromium) and CJK fonts (`fonts-noto-cjk`) for the screenshot.
Set BULLETIN_QA_UPDATE_SCREENSHOT=1 to refresh docs/screenshot-chat.png and docs/screenshot-trend.png from this run.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

from app_process import BUILT as BUILT_LINE
from app_process import running_app
from data_files import ISSUE_9

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
BULLETIN = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"
# Five 政府工作报告: each one's 回顾 gives the year before, so these hold 城镇新增就业 for 2020–2024 (not 2019).
REPORTS = [ROOT / "corpus" / "gov-work-reports" / f"gov-work-report-{year}.md" for year in range(2021, 2026)]
SCREENSHOT = ROOT / "docs" / "screenshot-chat.png"
TREND_SCREENSHOT = ROOT / "docs" / "screenshot-trend.png"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 20_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium "
                                                     "(apt-get install -y chromium fonts-noto-cjk)"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package")


# The parser drops markdown's `__` bold markers, so the script sets both window.__xss and window.xss.
HOSTILE_ISSUE = """# 上街信息

第 10 期

中共上街区委办公室

2026 年 4 月 9 日

## 区城管局推进口袋公园建设

今年以来，区城管局持续推进口袋公园建设，全区新建口袋公园 23 个{markup}，方便群众就近休闲。（区城管局）

责任编辑：柴亚文
""".replace("{markup}", '<script>window.__xss=1;window.xss=1</script><img src=x onerror="window.__xss=2;window.xss=2">')


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app over a one-bulletin corpus (the seed issue)."""
    with running_app(tmp_path_factory.mktemp("app-browser"), BULLETIN) as app:
        yield app.url


@pytest.fixture(scope="module")
def trend_server(tmp_path_factory):
    """The app over the seed issue and five 政府工作报告 (2021–2025), for trend questions."""
    with running_app(tmp_path_factory.mktemp("app-browser-trend"), BULLETIN, *REPORTS) as app:
        url = app.url
        yield url


@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium, always closed."""
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(server, browser):
    """A fresh page on the chat; fails the test on any uncaught page error."""
    with open_page(browser, server) as opened:
        yield opened


@pytest.fixture
def trend_page(trend_server, browser):
    """A fresh page on the chat over the reports."""
    with open_page(browser, trend_server) as opened:
        yield opened


@contextmanager
def open_page(browser, url: str, locale: str = "zh-CN"):
    """A fresh page on the chat at url in a browser set to locale, loaded; fails on any uncaught page error;
    always closed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(url)
        page.wait_for_selector("#question textarea")
        page.wait_for_function("(t => t && !t.includes('正在读取'))(document.querySelector('#status')?.innerText)")
        yield page
        assert not errors, errors
    finally:
        context.close()


def ask(page, question: str) -> str:
    """Ask in the chat, wait for the streamed answer to finish, return the new answer's text."""
    before = page.locator("#chat [data-testid=bot]").count()
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_function(
        """n => { const bots = document.querySelectorAll('#chat [data-testid=bot]');
                  return bots.length > n && !bots[bots.length - 1].innerText.includes('▍'); }""", arg=before)
    return page.locator("#chat [data-testid=bot]").last.inner_text()


def upload(page, *paths: Path) -> str:
    """Choose files, wait until gradio has them, press 添加到索引, return the upload message."""
    before = page.inner_text("#upload-message")
    page.set_input_files("#upload input[type=file]", [str(path) for path in paths])
    for path in paths:
        page.wait_for_function("name => (document.querySelector('#upload')?.innerText ?? '').includes(name)",
                               arg=path.stem)
    page.click("#add")
    page.wait_for_function("""before => { const text = document.querySelector('#upload-message')?.innerText ?? '';
                                         return text !== before && /索引(已更新|保持不变)/.test(text); }""",
                           arg=before)
    return page.inner_text("#upload-message")


def take_screenshot(page, tmp_path, readme_copy: Path) -> None:
    """Screenshot the page (a real image of sensible size); with BULLETIN_QA_UPDATE_SCREENSHOT=1 it replaces
    README's copy."""
    shot = tmp_path / readme_copy.name
    page.screenshot(path=str(shot))
    assert 10_000 < shot.stat().st_size < 400_000
    if os.environ.get("BULLETIN_QA_UPDATE_SCREENSHOT") == "1":
        readme_copy.parent.mkdir(exist_ok=True)
        shutil.copy(shot, readme_copy)


def test_answer_shows_figure_quote_citation_and_sources(page, tmp_path):
    answer = ask(page, "全区社会工作者持证人数是多少？")
    assert "434" in answer and "上街信息" in answer and "第 8 期" in answer
    assert page.locator("#chat [data-testid=bot] strong", has_text="434").count() >= 1  # the figure is bold
    assert "积极动员 735 人报考社会工作者职业资格考试" in answer  # the verbatim quote
    sources = page.inner_text("#sources")
    assert "一是建强骨干队伍" in sources and "第 7 段" in sources
    assert "434" in page.locator("#sources mark").first.inner_text()  # the quoted sentence is highlighted
    take_screenshot(page, tmp_path, SCREENSHOT)


def test_follow_up_and_abstention(page):
    ask(page, "全区社会工作者持证人数是多少？")
    follow_up = ask(page, "那新市民驿站呢？")
    assert "42" in follow_up and "新市民驿站" in follow_up
    abstention = ask(page, "全区建成多少个充电桩？")
    assert "公报中未找到" in abstention and "相关内容（不是答案）" in abstention
    assert page.locator("#chat [data-testid=bot] .abstain-mark").count() == 1
    assert "相关内容（不是答案）" in page.inner_text("#sources")


def chips(page) -> list[str]:
    """The filter chips over the last answer."""
    return page.locator("#chat [data-testid=bot]").last.locator(".filter-chip").all_inner_texts()


def test_filters_restrict_the_answer_and_show_as_chips(page):
    assert "434" in ask(page, "全区社会工作者持证人数是多少？")
    assert chips(page) == []  # no filter, no chip
    page.get_by_text("筛选", exact=True).click()
    page.fill("#issue textarea", "7")
    assert "公报中未找到" in ask(page, "全区社会工作者持证人数是多少？")  # there is no issue 7 …
    assert chips(page) == ["期号：7"]  # … and the answer says which filter made it so
    page.fill("#issue textarea", "")
    page.fill("#date-from textarea", "2026-02-01")
    page.fill("#date-to textarea", "2026-02-28")
    assert "434" in ask(page, "全区社会工作者持证人数是多少？")
    assert chips(page) == ["起始日期：2026-02-01", "截止日期：2026-02-28"]
    assert page.inner_text("#filter-message").strip() == ""


@pytest.mark.parametrize("bad", ["2026-13-45", "2026/02/01"])
def test_an_invalid_date_is_said_where_it_was_typed_and_in_the_chat(page, bad):
    page.get_by_text("筛选", exact=True).click()
    page.fill("#date-from textarea", bad)
    answer = ask(page, "全区社会工作者持证人数是多少？")
    expected = f"起始日期“{bad}”不是有效日期，请写成 YYYY-MM-DD，例如 2026-02-12。"
    assert expected in answer and "未找到答案" not in answer and "434" not in answer  # no silent 未找到
    message = page.locator("#filter-message")
    assert message.inner_text().strip() == expected and message.is_visible()
    assert message.locator(".error").count() == 1
    page.fill("#date-from textarea", "2026-02-01")  # corrected: answered, and the message goes
    assert "434" in ask(page, "全区社会工作者持证人数是多少？")
    page.wait_for_function("(document.querySelector('#filter-message')?.innerText ?? 'x').trim() === ''")


@pytest.mark.parametrize("locale", ["en-US", "fr-FR", "zh-CN"])
def test_gradio_words_are_chinese_whatever_the_browser_language(server, browser, locale):
    """The upload box's own words come from Gradio's dictionary for the browser's language; the chat sets them."""
    with open_page(browser, server, locale=locale) as page:
        box = page.inner_text("#upload")
        assert "将公报文件拖放到此处" in box and "点击选择文件" in box, box
        assert not re.search(r"Drop|Click|Upload|Déposez|Cliquez", box)
        footer = page.inner_text("footer")
        assert "通过 API 使用" in footer and "Use via API" not in footer
        page.get_by_text("筛选", exact=True).click()  # the folded filters too
        words = re.findall(r"[A-Za-z]{3,}", page.inner_text("body"))
        names = {"fake", "hash", "Gradio", "API", "MCP", "txt", "docx", "pdf", "html", "htm"}  # model, product, types
        assert set(words) <= names, set(words) - names


def rgba(css: str) -> tuple[float, float, float, float]:
    """A computed CSS colour ('rgb(…)', 'rgba(…)' or 'color(srgb …)') as 0–1 channels and alpha."""
    numbers = [float(n) for n in re.findall(r"[\d.]+", css.split("(", 1)[1])]
    if css.startswith("color("):
        r, g, b, *a = numbers
        return r, g, b, a[0] if a else 1.0
    r, g, b, *a = numbers
    return r / 255, g / 255, b / 255, a[0] if a else 1.0


def over(top: tuple, below: tuple) -> tuple:
    """Colour top (with its alpha) painted over an opaque colour below."""
    alpha = top[3]
    return tuple(alpha * t + (1 - alpha) * b for t, b in zip(top[:3], below[:3])) + (1.0,)


def luminance(colour: tuple) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in colour[:3]]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(page, selector: str) -> float:
    """The WCAG contrast ratio of the element's text against what is painted behind it, from the page's computed
    styles: the background colours of it and its ancestors, composited from the page's white canvas up."""
    styles = page.locator(selector).last.evaluate("""element => {
        const layers = [];
        for (let node = element; node; node = node.parentElement) layers.push(getComputedStyle(node).backgroundColor);
        return {color: getComputedStyle(element).color, layers, opacity: getComputedStyle(element).opacity};
    }""")
    assert float(styles["opacity"]) == 1.0
    behind = (1.0, 1.0, 1.0, 1.0)
    for layer in reversed(styles["layers"]):
        behind = over(rgba(layer), behind)
    text = over(rgba(styles["color"]), behind)
    light, dark = sorted((luminance(text), luminance(behind)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_abstention_notice_is_readable(page):
    ask(page, "全区建成多少个充电桩？")
    for part in (".abstain", ".abstain-mark"):  # the sentence and its 未找到答案 mark
        selector = f"#chat [data-testid=bot] {part}"
        ratio = contrast(page, selector)
        assert ratio >= 4.5, (part, ratio)  # WCAG 2 AA for normal text
        assert page.locator(selector).last.evaluate("e => getComputedStyle(e).fontStyle") == "normal"


def test_example_question_fills_the_box(page):
    page.get_by_text("社会组织党组织覆盖率是多少？", exact=True).first.click()
    page.wait_for_function("(document.querySelector('#question textarea')?.value ?? '').includes('覆盖率')")
    page.click("#send")
    page.wait_for_function("(document.querySelector('#chat')?.innerText ?? '').includes('94%')")


def test_uploaded_issue_is_answered(page, tmp_path):
    issue = tmp_path / "上街信息 第9期.md"
    issue.write_text(ISSUE_9, encoding="utf-8")
    one_format = r"最近更新 \d{4}-\d{2}-\d{2} \d{2}:\d{2}$"  # at start and after an upload alike
    assert re.search(one_format, page.inner_text("#status summary").strip()), page.inner_text("#status")
    message = upload(page, issue)
    assert "已添加" in message and "第 9 期" in message, message
    page.wait_for_function(r"/ 2 期 /.test(document.querySelector('#status summary')?.innerText ?? '')")
    assert re.search(one_format, page.inner_text("#status summary").strip()), page.inner_text("#status")
    page.click("#status summary")  # the issues of each series unfold under the one-line summary
    assert "《上街信息》第 8、9 期" in page.inner_text("#status")
    answer = ask(page, "全区新建社区食堂多少个？")
    assert "17" in answer and "第 9 期" in answer


def test_bad_files_are_refused_with_their_names(page, tmp_path):
    status = page.inner_text("#status")
    empty, program = tmp_path / "empty.txt", tmp_path / "tool.exe"
    empty.write_bytes(b"")
    program.write_bytes(b"MZ\x90\x00\x03\x00\x00\x00")
    message = upload(page, empty, program)
    assert "未添加「empty.txt」：文件是空的（0 字节），请确认文件已完整保存或上传。" in message
    assert "未添加「tool.exe」：不支持的文件类型“.exe”" in message
    assert "索引保持不变" in message
    reasons = "".join(line.split("」：", 1)[1] for line in message.splitlines() if "」：" in line)
    assert not re.search(r"[A-Za-z]{3,}", re.sub(r"\.[a-z]{2,4}\b", "", reasons)), reasons  # Chinese, file types aside
    assert page.inner_text("#status") == status


def test_bulletin_and_question_markup_never_runs(page, tmp_path):
    hostile = tmp_path / "koudai-gongyuan.md"
    hostile.write_text(HOSTILE_ISSUE, encoding="utf-8")
    assert "已添加" in upload(page, hostile)
    answer = ask(page, "全区新建口袋公园多少个？")
    assert "23" in answer and "<script>" in answer  # shown as text, not dropped and not run
    ask(page, '<img src=x onerror="window.__xss=3;window.xss=3">口袋公园有多少个？')
    assert "<img src=x onerror=" in page.inner_text("#chat")
    assert "<script>" in page.inner_text("#sources")
    assert page.locator("#chat script, #chat img[src=x], #sources script, #sources img").count() == 0
    assert page.evaluate("[typeof window.__xss, typeof window.xss]") == ["undefined", "undefined"]


def table_rows(page) -> dict[str, str]:
    """The last answer's table: first cell (the year) → the row's text."""
    rows = page.locator("#chat [data-testid=bot]").last.locator("table tbody tr")
    return {rows.nth(i).locator("td").first.inner_text().strip(): rows.nth(i).inner_text()
            for i in range(rows.count())}


def test_trend_answer_shows_a_cited_table_and_a_chart(trend_page, tmp_path):
    page = trend_page
    assert not page.locator("#trend-chart").is_visible()  # no chart before a trend question
    answer = ask(page, "2021到2024年城镇新增就业分别是多少？")
    rows = table_rows(page)
    assert list(rows) == ["2021", "2022", "2023", "2024"], rows
    for year, figure in {"2021": "1269万人", "2022": "1206万人", "2023": "1244万人", "2024": "1256万人"}.items():
        assert figure in rows[year] and "城镇新增就业" in rows[year] and "实际" in rows[year], rows[year]
        assert "政府工作报告" in rows[year]  # its citation chip
    last = page.locator("#chat [data-testid=bot]").last
    assert last.locator("table .cite-chip").count() == 4
    assert "总体下降" in answer  # the summary line, under the table
    assert "城镇新增就业1244万人，城镇调查失业率平均为5.2%。" in answer  # the verbatim quotes follow
    page.wait_for_selector("#trend-chart img", state="visible")
    chart = page.locator("#trend-chart img").bounding_box()
    assert chart and chart["width"] > 200 and chart["height"] > 80
    assert "城镇新增就业" in page.inner_text("#trend-note") and "万人" in page.inner_text("#trend-note")
    sources = page.inner_text("#sources")
    assert "2021 年 · 实际：1269万人" in sources and "2024 年 · 实际：1256万人" in sources
    assert page.locator("#sources mark").count() == 4  # each cited sentence highlighted in its paragraph
    question = page.locator("#chat [data-testid=user]").last  # the question and its table in view, not the last quote
    question.evaluate("message => message.scrollIntoView({block: 'start'})")
    page.evaluate("window.scrollTo(0, 0)")
    take_screenshot(page, tmp_path, TREND_SCREENSHOT)

    ask(page, "2019到2021年城镇新增就业分别是多少？")  # no report in this corpus speaks of 2019
    rows = table_rows(page)
    assert list(rows) == ["2019", "2020", "2021"], rows
    assert "缺（公报中没有这一年的数据）" in rows["2019"] and "万人" not in rows["2019"]
    assert "1186万人" in rows["2020"] and "1269万人" in rows["2021"]
    assert "2019 年缺数据" in page.inner_text("#trend-note")

    assert "434" in ask(page, "全区社会工作者持证人数是多少？")  # an ordinary answer hides the chart
    page.wait_for_selector("#trend-chart", state="hidden")
    page.locator("#chat [data-testid=bot]").first.get_by_text("总体下降").click()  # an earlier table answer
    page.wait_for_selector("#trend-chart img", state="visible")
    assert "2021 年 · 实际：1269万人" in page.inner_text("#sources")


def test_first_start_answers_at_once_shows_the_build_and_switches_to_hybrid(browser, tmp_path):
    """An empty index folder: the page comes up and answers by BM25 while the real build runs in the background
    (the fake embedder slowed to ~11 s for these 534 chunks), the status line
    counts the chunks embedded with the time left, an upload waits for the build and says so, and the status
    switches to 混合检索 without a restart."""
    issue = tmp_path / "上街信息 第9期.md"
    issue.write_text(ISSUE_9, encoding="utf-8")
    with running_app(tmp_path / "first-start", BULLETIN, *REPORTS, built=False, script=ROOT / "tests" / "slow_app.py",
                     env={"BULLETIN_QA_TEST_DELAY": "0.02"}) as app, open_page(browser, app.url) as page:
        assert "answering with hybrid" not in app.log.read_text()  # still building when the page is up
        status = page.inner_text("#status summary")
        assert "关键词检索（语义索引建立中：" in status, status
        assert "混合检索" not in status
        answer = ask(page, "全区社会工作者持证人数是多少？")
        assert "434" in answer and "第 8 期" in answer
        # The chunks embedded so far out of all, and the time left, move on while the page stays open.
        page.wait_for_function(r"/正在嵌入段落 [\d,]+ \/ [\d,]+，约剩 \d/.test("
                               r"document.querySelector('#status summary')?.innerText ?? '')")
        counts = re.search(r"正在嵌入段落 ([\d,]+) / ([\d,]+)", page.inner_text("#status summary"))
        done, total = (int(n.replace(",", "")) for n in counts.groups())
        assert 0 < done < total
        # An upload during the build waits its turn, says so, and is added once the build is done.
        page.set_input_files("#upload input[type=file]", [str(issue)])
        page.wait_for_function("name => (document.querySelector('#upload')?.innerText ?? '').includes(name)",
                               arg=issue.stem)
        page.click("#add")
        page.wait_for_function("(document.querySelector('#upload-message')?.innerText ?? '').includes('语义索引正在建立中')")
        page.wait_for_function("(document.querySelector('#upload-message')?.innerText ?? '').includes('已添加')",
                               timeout=60_000)
        page.wait_for_function("(document.querySelector('#status summary')?.innerText ?? '').includes('混合检索')",
                               timeout=60_000)
        status = page.inner_text("#status summary")
        assert "关键词检索" not in status and "建立中" not in status, status
        assert re.search(r"最近更新 \d{4}-\d{2}-\d{2} \d{2}:\d{2}$", status.strip()), status
        assert "17" in ask(page, "全区新建社区食堂多少个？")
        log = app.log.read_text()
        for phase in ("reading and parsing files", "embedding chunks", "building the BM25 index", "extracting facts",
                      "writing the index generation", BUILT_LINE):
            assert phase in log, (phase, log)
        generations = [path.name for path in app.index.iterdir() if path.name.startswith(("gen-", ".tmp-"))]
        assert len(generations) == 1 and generations[0].startswith("gen-"), generations
