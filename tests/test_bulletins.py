"""Any office's bulletins: title blocks, places, several bulletins in one file, tables as rows, text repair.

Every test reads real bulletins from offices nobody tuned on (eval/corpora/stat-bulletins, as published:
HTML in UTF-8 and GB2312, PDF, docx; tests/data holds two of them saved as .md and .txt).
"""

from pathlib import Path

import pytest

from qa.assistant import Assistant
from qa.guard import check_figures
from qa.chunk import chunk_bulletin
from qa.embed import HashEmbedder
from qa.parse import parse_bulletin
from qa.read import read_bulletin_file
from qa.repair import close_up_spacing, is_numbered_heading, is_page_number
from qa.retrieve import question_places
from qa.update import update_index
from qa.tables import row_cells

ROOT = Path(__file__).resolve().parent.parent
STAT = ROOT / "eval" / "corpora" / "stat-bulletins"
DATA = ROOT / "tests" / "data"


def parse(path: Path):
    return parse_bulletin(read_bulletin_file(path), path.name)


@pytest.mark.parametrize("path, place, period, date, publisher, tables", [
    (STAT / "hami-2025-statistical-bulletin.html", "哈密市", "2025", "2026-05-08", "国家统计局哈密调查队", 6),
    (STAT / "yueyang-2025-statistical-bulletin.html", "岳阳市", "2025", "2026-04", "岳阳市统计局", 0),  # GB2312
    (STAT / "xian-2025-statistical-bulletin.pdf", "西安市", "2025", "2026-05-15", "西安市统计局", 2),
    (STAT / "hotan-2025-statistical-bulletin.docx", "和田地区", "2025", "2026-03-27", "和田地区统计局", 3),
    (DATA / "stat-bulletin-jiamusi.md", "佳木斯市", "2025", "2026-05-02", "佳木斯市统计局", 3),
    (DATA / "stat-bulletins-two-cities.txt", "西安市", "2025", "2026-05-15", "西安市统计局", None),
])
def test_title_block_in_every_format(path, place, period, date, publisher, tables):
    bulletin = parse(path)
    part = bulletin.parts[0]
    assert (part.place, part.period, part.date) == (place, period, date)
    assert publisher in part.publisher
    assert part.series.endswith("国民经济和社会发展统计公报") and period not in part.series
    assert not [w for w in bulletin.warnings if "place" in w or "date" in w]
    if tables is not None:
        assert len(bulletin.tables) == tables
    # Page furniture before the title (navigation, share buttons) is not bulletin text.
    assert "首页" not in bulletin.clean_text[:200] and "分享" not in bulletin.clean_text[:200]


def test_a_field_that_is_not_printed_keeps_its_warning():
    bulletin = parse(STAT / "jiaozuo-2025-statistical-bulletin.pdf")  # prints no issuer and no date
    assert bulletin.parts[0].place == "焦作市" and bulletin.parts[0].period == "2025"
    assert bulletin.warnings and "date" in bulletin.warnings[0] and "publisher" in bulletin.warnings[0]


def test_place_names_come_from_title_and_issuers():
    bortala = parse(STAT / "bortala-2025-statistical-bulletin.html").parts[0]
    assert bortala.place == "博尔塔拉蒙古自治州" and "博州" in bortala.places  # 来源：博州统计局
    xiangxi = parse(STAT / "xiangxi-2025-statistical-bulletin.pdf").parts[0]
    assert {"湘西自治州", "湘西", "湘西州"} <= set(xiangxi.places)  # 湘西州统计局 国家统计局湘西调查队


def test_several_bulletins_in_one_file_are_split_by_title():
    bulletin = parse(DATA / "stat-bulletins-two-cities.txt")
    assert [(part.place, part.date) for part in bulletin.parts] == [("西安市", "2026-05-15"), ("湘潭市", "2026-04-27")]
    chunks = chunk_bulletin(bulletin, "h")
    by_place = {chunk.place for chunk in chunks if "湘潭" in chunk.text}
    assert by_place == {"湘潭市"}
    second = bulletin.parts[1]
    assert all(chunk.series == second.series for chunk in chunks if chunk.start >= second.start)


@pytest.mark.parametrize("path, caption, columns, label, cells", [
    # HTML with spanned header cells: each column is named by every header above it.
    (STAT / "hami-2025-statistical-bulletin.html", "表1 2025年分区县地区生产总值及其增长速度",
     ("区县", "地区生产总值（亿元）", "地区生产总值（亿元） 比上年增长（%）"), "伊州区", ["664.08", "7.6"]),
    # docx: the caption is a row of the table itself.
    (STAT / "hotan-2025-statistical-bulletin.docx", "2025年客货运输总量及增速",
     ("指标", "单位", "绝对数", "比上年增长（%）"), "旅客运输总量", ["万人次", "1894.73", "60.2"]),
    # PDF text: the caption, a header line, then label + figures rows.
    (STAT / "xian-2025-statistical-bulletin.pdf", "表 1 2025 年居民消费价格比上年涨跌幅度",
     ("指标", "涨跌幅度（%）"), "居民消费价格", ["0.5"]),
    # markdown rows
    (DATA / "stat-bulletin-jiamusi.md", "2025年年末全市户籍人口数及其构成",
     ("指标", "年末数（万人）", "比重（%）"), "全市户籍总人口", ["215.9", "100.0"]),
])
def test_tables_are_rows_with_headers(path, caption, columns, label, cells):
    bulletin = parse(path)
    table = next(t for t in bulletin.tables if t.caption == caption)
    assert table.columns[:len(columns)] == columns
    rows = [row_cells(bulletin.clean_text[bulletin.paragraphs[p].start:bulletin.paragraphs[p].end])
            for p in table.row_paragraphs]
    row = next(r for r in rows if r[0] == label)
    assert row[1:1 + len(cells)] == cells
    chunks = [c for c in chunk_bulletin(bulletin, "h") if c.kind == "row"]
    assert all(bulletin.clean_text[c.start:c.end] == c.text for c in chunks)
    assert any(label in c.text and caption in c.embed_text for c in chunks)


def test_pdf_repairs_on_real_files():
    xian = parse(STAT / "xian-2025-statistical-bulletin.pdf").clean_text
    assert "第二产业增加值 3970.37 亿元，增长 4.8%" in xian  # letter-spaced justification closed up
    assert "— 2 —" not in xian  # page numbers dropped
    assert "居民消费价格比上年上涨0.5%。其中，消费品价格下降0.1%" in xian  # a sentence wrapped over a page
    xiangtan = parse(STAT / "xiangtan-2025-statistical-bulletin.pdf")
    assert "一、综合" in xiangtan.sections  # "一、综 合"
    assert close_up_spacing("X 市 统 计 局") == "X 市统计局"
    assert close_up_spacing("哈密市统计局 国家统计局哈密调查队") == "哈密市统计局 国家统计局哈密调查队"
    assert is_page_number("— 1 —") and is_page_number("第 3 页") and not is_page_number("2025 年")
    assert is_numbered_heading("06固定资产投资") and is_numbered_heading("01 / 综合")
    assert not is_numbered_heading("06家企业获奖。")


@pytest.fixture(scope="module")
def stat_assistant(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("stat")
    for name in ("hami-2025-statistical-bulletin.html", "xian-2025-statistical-bulletin.pdf",
                 "hotan-2025-statistical-bulletin.docx", "chenzhou-2025-statistical-bulletin.html"):
        (corpus / name).write_bytes((STAT / name).read_bytes())
    embedder = HashEmbedder()
    index_dir = tmp_path_factory.mktemp("index")
    index, _ = update_index(corpus, index_dir, embedder, progress=False)
    return Assistant(index, embedder, index_dir=index_dir, corpus_dir=corpus)


def test_places_are_learned_and_narrow_retrieval(stat_assistant):
    index = stat_assistant.index
    assert question_places(index, "哈密2025年粮食总产是多少？") == (["哈密市"], [])
    assert question_places(index, "2025年洛阳市地区生产总值是多少？") == ([], ["洛阳市"])
    assert question_places(index, "2025年伊州区地区生产总值是多少？") == ([], [])  # a county in 哈密's text
    answer = stat_assistant.ask("2025年西安市地区生产总值是多少？")
    assert not answer.abstained and "13902.67" in answer.answer
    assert answer.citations[0].file == "xian-2025-statistical-bulletin.pdf"
    missing = stat_assistant.ask("2025年洛阳市地区生产总值是多少？")
    assert missing.abstained and "洛阳市" in missing.answer and not missing.citations


def test_a_table_cell_answer_names_row_column_unit_and_quotes_the_row(stat_assistant):
    answer = stat_assistant.ask("哈密2025年粮食总产是多少？")
    assert not answer.abstained
    assert answer.answer == "13.61 万吨 —— 1.2.粮食总产（2025年）（表2）。"
    row = answer.citations[0].quote
    assert row.startswith("|") and "13.61" in row and "粮食总产" in row  # the row as printed
    assert any(c.quote.startswith("表2") for c in answer.citations)  # the caption, so 表2's figure is quoted
    assert check_figures(answer.answer, [c.quote for c in answer.citations]) == []


@pytest.mark.parametrize("question, expected, not_expected", [
    # 人均 makes another indicator: the bare question wants the total, in two offices' wording
    ("西安市2025年地区生产总值是多少？", "13902.67", "105308"),
    ("郴州市2025年地区生产总值是多少？", "3502.08", "76672"),
    ("哈密市2025年人均地区生产总值是多少？", "172160", "1162.95"),
    # a part of the year (一季度, 上半年) is not the year
    ("和田地区2025年地区生产总值比上年增长多少？", "6.6%", "4.7%"),
])
def test_a_qualified_figure_answers_only_a_question_with_that_qualifier(stat_assistant, question, expected, not_expected):
    answer = stat_assistant.ask(question)
    assert not answer.abstained and expected in answer.answer and not_expected not in answer.answer, answer.answer


def test_qualifiers_a_question_does_not_say():
    from qa.lead import unasked_qualifiers

    assert unasked_qualifiers("人均地区生产总值", "地区生产总值是多少？") == ["人均"]
    assert unasked_qualifiers("一季度地区生产总值同比增长", "地区生产总值增长多少？") == ["一季度"]
    assert unasked_qualifiers("1-11月进出口总值", "进出口总值是多少？") == ["1-11月"]
    assert unasked_qualifiers("年均1270多万人", "平均每年新增就业多少？") == []
    assert unasked_qualifiers("人均可支配收入", "居民人均可支配收入是多少？") == []


@pytest.mark.parametrize("question, expected, not_expected", [
    # the row that names exactly what is asked beats a sentence about a narrower item (公路旅客运输量)
    ("和田地区2025年旅客运输总量是多少万人次？", "1894.73", "1527.22"),
    # a broader sentence does not win over the sub-item asked (通讯器材类 → 其中智能手机)
    ("哈密市2025年第二产业增加值比重是多少？", "67.3%", "4.4%"),
])
def test_the_figure_whose_label_says_no_more_than_the_question_wins(stat_assistant, question, expected, not_expected):
    answer = stat_assistant.ask(question)
    assert not answer.abstained and expected in answer.answer and not_expected not in answer.answer, answer.answer


def test_label_precision_ignores_the_comparison_base(stat_assistant):
    from qa.question import analyse

    reader = stat_assistant.answerer
    question = analyse("旅客运输总量是多少？")
    assert reader.scorer.label_precision(question, ["旅客运输总量"]) == 1.0
    assert reader.scorer.label_precision(question, ["全年公路旅客运输量"]) < 0.8
    growth = analyse("地区生产总值增长了多少？")
    assert reader.scorer.label_precision(growth, ["比上年增长", "全年地区生产总值"]) == \
        reader.scorer.label_precision(growth, ["增长", "全年地区生产总值"])
