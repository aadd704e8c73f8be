"""Where the tests' data lies: what the repository ships, and the optional full data in `../shared/`.

Every default test reads only files inside the repository, so a fresh clone runs them. The 52 政府工作报告
are the bulletin files in `corpus/gov-work-reports/` (made by `qa.importers` from the archive, identical to
what `export_gov_reports` writes); small excerpts of the archive and of CMRC 2018 lie in `tests/data/`.
A check that needs the full data beside the checkout carries `needs_shared`, which skips it when it is absent.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOV_REPORTS = ROOT / "corpus" / "gov-work-reports"
GOV_JSONL_EXCERPT = ROOT / "tests" / "data" / "gov-work-reports" / "government_work_reports-excerpt.jsonl"
CMRC_EXCERPT = ROOT / "tests" / "data" / "cmrc2018" / "cmrc2018_trial-excerpt.json"
SHARED_DATA = ROOT.parent / "shared" / "data"
GOV_JSONL = SHARED_DATA / "gov-work-reports" / "government_work_reports.jsonl"
CMRC_TRIAL = SHARED_DATA / "cmrc2018" / "cmrc2018_trial.json"
SEED = ROOT / "corpus" / "shangjie-xinxi-2026-08.md"

# A second, small issue of the seed series, for uploads (区民政局's 17 社区食堂).
ISSUE_9 = """# 上街信息

第 9 期

中共上街区委办公室

2026 年 3 月 12 日

## 区民政局推进社区食堂建设 让老年人吃上放心饭

今年以来，区民政局聚焦老年人就餐难题，统筹推进社区食堂建设。全区新建社区食堂 17 个，累计服务老年人 5600 余人次，群众满意度持续提升。（区民政局）

责任编辑：柴亚文
"""


def gov_report(year: str) -> Path:
    """The bundled bulletin file of one year's 政府工作报告."""
    return GOV_REPORTS / f"gov-work-report-{year}.md"


def gov_report_years() -> list[str]:
    """The years of the bundled reports, oldest first."""
    return sorted(path.stem.rsplit("-", 1)[1] for path in GOV_REPORTS.glob("gov-work-report-*.md"))


def copy_gov_reports(out_dir: Path, years: list[str] | None = None) -> list[Path]:
    """Copy the bundled reports (all, or the given years) into out_dir, as `export_gov_reports` would write them.

    Returns:
        The files written, in year order.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(gov_report(year), out_dir)) for year in sorted(years or gov_report_years())]


def needs_shared(path: Path) -> pytest.MarkDecorator:
    """Mark for a test that reads path, a file of the full data in `../shared/data/`: skip it when it is absent."""
    return pytest.mark.skipif(not path.is_file(), reason=f"../shared/data/{path.relative_to(SHARED_DATA)} not found: "
                                                         "optional check on the full data")


def seed_corpus(folder: Path) -> Path:
    """A corpus folder holding the seed bulletin alone."""
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    return folder


# A county bureau's notice: a numbered list that heads nothing (tests/test_list_items.py) and a signature at its
# foot, issuer and date (tests/test_signature.py).
COUNTY_NOTICE = """# 关于做好2026年度城乡居民基本医疗保险参保缴费工作的通知

各乡镇人民政府，县直各单位：

现将有关事项通知如下：

一、个人缴费标准为每人每年400元，财政补助标准为每人每年不低于700元。

二、集中缴费时间为2025年9月1日至12月31日，逾期不再办理。

青山县医疗保障局

2025年8月20日
"""


def lexical_assistant(tmp_path_factory: pytest.TempPathFactory, files: dict[str, str]):
    """An assistant over the given texts (file name → text) with the meaningless HashEmbedder: the rules alone."""
    from qa.assistant import Assistant
    from qa.embed import HashEmbedder
    from qa.update import update_index

    corpus = tmp_path_factory.mktemp("corpus")
    for name, text in files.items():
        (corpus / name).write_text(text, encoding="utf-8")
    embedder = HashEmbedder()
    index, _ = update_index(corpus, tmp_path_factory.mktemp("index"), embedder, progress=False)
    return Assistant(index, embedder)


def assert_leads_with(assistant, question: str, figure: str) -> None:
    """The question is answered, leading with `figure`, which its first quote holds."""
    answer = assistant.ask(question)
    assert not answer.abstained, answer.answer
    assert answer.answer.startswith(figure), answer.answer
    assert figure in answer.citations[0].quote
