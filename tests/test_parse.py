"""The parser on the real seed bulletin and on the real 政府工作报告 series; the importer that made that series."""

from pathlib import Path

import pytest

from qa.importers import LICENCE_MARKER, export_gov_reports, load_gov_reports
from qa.parse import parse_bulletin, split_front_matter

from data_files import GOV_JSONL, GOV_JSONL_EXCERPT, GOV_REPORTS, gov_report, gov_report_years, needs_shared

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"


@pytest.fixture(scope="module")
def seed():
    return parse_bulletin(SEED.read_text(encoding="utf-8"), SEED.name)


def test_masthead_fields(seed):
    assert seed.series == "上街信息"
    assert seed.issue == "8"
    assert seed.date == "2026-02-12"
    assert seed.publisher == "中共上街区委办公室"
    assert seed.year == 2026
    assert seed.warnings == ()


def test_article_title_and_department_tag(seed):
    assert len(seed.articles) == 1
    article = seed.articles[0]
    assert article.title == "区委社工部聚焦群众需求 提升服务效能 推动工作走深走实"
    assert article.department == "区委社工部"
    assert seed.clean_text[article.start:article.end].endswith("（区委社工部）")


def test_three_sections_including_those_inside_bold_markers(seed):
    assert seed.sections == (
        "一、强基固本、深耕细作，基层善治迈出新步伐。",
        "二、靶向发力、攻坚克难，新兴领域党建实现新突破。",
        "三、凝心聚力、融合共治，服务群众效能得到新提升。",
    )


def test_every_item_of_every_section(seed):
    labels = [item.label for item in seed.items]
    assert labels == [
        "一是建强骨干队伍", "二是健全治理机制", "三是破解难点堵点",
        "一是聚力“两个覆盖”", "二是建强指导力量", "三是加强关心关爱",
        "一是健全协调机制", "二是打造服务品牌", "三是深化网格融合",
    ]
    for item in seed.items:
        assert seed.clean_text[item.start:item.end].startswith(item.label)


def test_page_break_paragraphs_are_rejoined(seed):
    assert "等活动，累计培训社区工作者、网格员 1300 余人次" in seed.clean_text
    assert "商圈联动-社区共治”体系" in seed.clean_text


def test_no_markdown_left_and_figures_intact(seed):
    assert "**" not in seed.clean_text
    assert "#" not in seed.clean_text
    assert "---" not in seed.clean_text
    for figure in ("1300 余人次", "434 人", "61.5%", "400余人次", "92.5%、87%、94%、91%", "2000余人次", "139名"):
        assert figure in seed.clean_text


def test_footer_is_kept_and_searchable(seed):
    assert seed.footer == "本期送：区县处级领导\n发：峡窝镇、各街道办事处、区直各单位负责同志\n责任编辑：柴亚文"
    kinds = [p.kind for p in seed.paragraphs]
    assert kinds[-3:] == ["footer", "footer", "footer"]


def test_paragraph_offsets_cover_clean_text(seed):
    for paragraph in seed.paragraphs:
        assert seed.clean_text[paragraph.start:paragraph.end].strip() == seed.clean_text[paragraph.start:paragraph.end]
    assert seed.paragraphs[-1].end == len(seed.clean_text)


def test_period_of_the_seed_is_last_year(seed):
    # "去年以来…" in an issue of 2026: the article speaks about 2025.
    assert {p.period for p in seed.paragraphs if p.kind == "body"} == {"2025"}


def test_front_matter_overrides_what_is_inferred():
    text = "---\nseries: 测试简报\nissue: 12\ndate: 2025-03-01\npublisher: 某办公室\n---\n" + SEED.read_text(encoding="utf-8")
    bulletin = parse_bulletin(text, "x.md")
    assert (bulletin.series, bulletin.issue, bulletin.date, bulletin.publisher) == ("测试简报", "12", "2025-03-01", "某办公室")


def test_front_matter_that_is_not_yaml_is_left_as_text():
    meta, rest = split_front_matter("---\n: : [\n---\n正文。")
    assert meta == {}
    assert "正文" in rest


def test_file_without_masthead_ingests_with_a_warning():
    bulletin = parse_bulletin("社区开展志愿服务活动12场，服务群众300余人次。\n\n另一段内容。", "notes-2025.txt")
    assert bulletin.series == "notes-2025"
    assert bulletin.warnings and "series" in bulletin.warnings[0] and "issue" in bulletin.warnings[0]
    assert "12场" in bulletin.clean_text


@pytest.fixture(scope="module")
def reports():
    """The bundled reports' texts by year."""
    return {year: gov_report(year).read_text(encoding="utf-8") for year in gov_report_years()}


def test_gov_reports_parse_with_periods(reports):
    assert len(reports) == 52
    report_2024 = parse_bulletin(reports["2024"], "gov-2024.md")
    assert report_2024.series == "政府工作报告"
    assert report_2024.issue == "2024"
    assert report_2024.date == "2024-03-05"  # from the dateline under the title
    assert report_2024.sections[:3] == ("一、2023年工作回顾", "二、2024年经济社会发展总体要求和政策取向", "三、2024年政府工作任务")
    employment = next(p for p in report_2024.paragraphs if "城镇新增就业1244万人" in report_2024.clean_text[p.start:p.end])
    assert employment.period == "2023"
    target = next(p for p in report_2024.paragraphs if "城镇新增就业1200万人以上" in report_2024.clean_text[p.start:p.end])
    assert target.period == "2024"
    assert "本作品" not in report_2024.clean_text


def test_full_width_year_headings(reports):
    report = parse_bulletin(reports["1995"], "gov-1995.md")
    review = [p for p in report.paragraphs if p.section and p.section.startswith("一、")]
    assert review and {p.period for p in review} >= {"1994"}


@pytest.mark.parametrize("year", ["1954", "1978", "1988", "2003", "2010", "2025"])
def test_every_era_of_reports_parses(reports, year):
    report = parse_bulletin(reports[year], f"gov-{year}.md")
    body = [p for p in report.paragraphs if p.kind == "body"]
    assert len(body) > 20
    assert report.year == int(year)
    # no paragraph is left dangling mid-sentence except where the source truly ends so
    dangling = [p for p in body if not report.clean_text[p.end - 1] in "。！？!?；;：:…”’」』）)"]
    assert len(dangling) <= 3


def test_export_writes_front_matter(tmp_path):
    files = export_gov_reports(GOV_JSONL_EXCERPT, tmp_path, years=["2024", "1975"])
    assert [f.name for f in files] == ["gov-work-report-1975.md", "gov-work-report-2024.md"]
    assert files[0].read_text(encoding="utf-8").startswith("---\nseries: 政府工作报告\nissue: '1975'")


def test_import_leaves_out_resolutions_and_the_licence_notice(tmp_path):
    # The excerpt: the 2024 report, the NPC's resolution on it (no year) and the 1975 report.
    lines = GOV_JSONL_EXCERPT.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3 and LICENCE_MARKER in lines[0]
    assert sorted(load_gov_reports(GOV_JSONL_EXCERPT)) == ["1975", "2024"]
    files = export_gov_reports(GOV_JSONL_EXCERPT, tmp_path)
    assert len(files) == 2
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert LICENCE_MARKER not in text and "Public domain" not in text
        assert path.read_bytes() == (GOV_REPORTS / path.name).read_bytes()  # the bundled files came from here


@needs_shared(GOV_JSONL)
def test_full_archive_exports_to_exactly_the_bundled_reports(tmp_path):
    files = export_gov_reports(GOV_JSONL, tmp_path)
    assert len(files) == 52
    assert [f.name for f in files] == sorted(p.name for p in GOV_REPORTS.glob("*.md"))
    for path in files:
        assert path.read_bytes() == (GOV_REPORTS / path.name).read_bytes(), path.name
