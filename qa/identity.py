"""Who published a bulletin, for which place and period, and when: read from its title block. Pure functions.

A bulletin names itself in one of two shapes (README "What is read"):
- a masthead: 《上街信息》 / 第 8 期 / 中共上街区委办公室 / 2026年2月12日 (read by `qa.parse`);
- a title block, as 统计公报 and reports print it: a title line "2025年X市国民经济和社会发展统计公报" (the year may
  follow the place, the title may be split over two lines or end in a footnote mark "[1]"), then issuer lines
  ("X市统计局 国家统计局X调查队"), a date ("2026年4月24日", "（2026年3月31日）", "发布时间：2026-04-30").
Saved web pages put site navigation before the title and a page footer after the text: the lines before a
title are page furniture, not bulletin text.

The place is read from the title and the issuers, never from a list of places: a title's words before its
kind of document ("哈密市" in 哈密市2025年…统计公报), an issuer's words before its kind of office ("博州" in
博州统计局, "哈密" in 国家统计局哈密调查队). Short forms drop the administrative suffix (郑州市 → 郑州).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

# The kind of document a title names, at its end. Longest first.
TITLE_KIND_RE = re.compile(r"(统计公报|公报|年报|工作报告|白皮书)$")
# What may follow a title on its line: a footnote mark "[1]", "①", or a repeated year (reprint sites).
TITLE_TAIL_RE = re.compile(r"(?:\s*(?:[\[［【(（]\s*[0-9０-９]{1,2}\s*[\]］】)）]|[①②③④⑤⑥⑦⑧⑨]|\*+))+\s*$|\s+[12][0-9]{3}\s*$")
TITLE_YEAR_RE = re.compile(r"([12][0-9]{3})\s*年(?:度)?")
# Administrative units a place name ends with (language, not a list of places), longest first.
ADMIN_SUFFIX = ("特别行政区", "自治区", "自治州", "自治县", "自治旗", "地区", "新区", "街道", "省", "市", "州",
                "盟", "县", "旗", "区", "镇", "乡")
_ADMIN = "|".join(ADMIN_SUFFIX)
PARTY_PREFIX_RE = re.compile(r"^(?:中共|中国共产党)")
# Offices that issue bulletins: the words before them name the place they serve.
OFFICE_RE = re.compile(
    r"(统计局|调查队|调查总队|人民政府|政府办公室|政府办公厅|办公室|办公厅|委员会|发展和改革委员会|发展改革委|"
    r"财政局|税务局|人力资源和社会保障局|教育局|卫生健康委员会|局|厅|委|办|院|中心|队)$"
)
NATIONAL_OFFICE_PREFIX_RE = re.compile(r"^(?:国家统计局|国家税务总局|中国人民银行|国家外汇管理局)")
SOURCE_LINE_RE = re.compile(r"(?:信息)?(?:来源|出处|发布机构|发布单位|发文机关|供稿)\s*[:：]\s*(.+)$")
STAMP_DATE_RE = re.compile(r"(?:(?:发布时间|发布日期|发布于|公开日期|成文日期|时间|日期)\s*[:：]?\s*|^)([12][0-9]{3})[-/.年]\s*"
                           r"([0-9]{1,2})[-/.月]\s*([0-9]{1,2})(?![0-9])")
LINE_DATE_RE = re.compile(r"^[（(]?\s*([12][0-9]{3})\s*年\s*([0-9]{1,2})\s*月\s*(?:([0-9]{1,2})\s*日)?\s*[)）]?$")
# Words that end like a place but name a kind of area, never a place of their own.
AREA_WORDS = ("小区", "社区", "园区", "景区", "城区", "校区", "片区", "辖区", "郊区", "新区", "街区", "营区", "开发区")
GENERIC_PLACES = ("全国", "全省", "全市", "全区", "全县", "全州", "本市", "本区", "本县", "我市", "我区", "我县")


@dataclass(frozen=True)
class TitleBlock:
    """What a title line says: where it starts (line index), how many lines it spans, and its parts."""

    line: int
    lines: int
    title: str  # the title as printed, lines joined, footnote marks removed
    series: str  # the title without its year: the name shared by every year's edition
    period: str | None  # the year the bulletin reports on
    place: str | None


def _plain(text: str) -> str:
    return re.sub(r"\s+", "", text)


def read_title(text: str) -> TitleBlock | None:
    """A title line's parts, or None when the line is not a bulletin title."""
    stripped = TITLE_TAIL_RE.sub("", text.strip())
    if len(stripped) > 60 or len(stripped) < 6 or re.search(r"[。；！？!?>|｜:：，,]", stripped):
        return None
    compact = _plain(stripped)
    kind = TITLE_KIND_RE.search(compact)
    if not kind:
        return None
    year = TITLE_YEAR_RE.search(compact)
    without_year = TITLE_YEAR_RE.sub("", compact, count=1)
    # 'X市2025年…公报': the place is what stands before the year; '2025年X市…公报': the leading name.
    before_year = compact[: year.start()] if year and year.start() > 0 else ""
    place = place_of_title(before_year) if before_year else place_of_title(without_year[: -len(kind.group(1))])
    if not year and not place:
        return None  # "统计公报" alone is a menu entry or a heading, not a title
    if len(without_year) <= len(kind.group(1)) + 1:
        return None
    return TitleBlock(0, 1, compact, without_year, year.group(1) if year else None, place)


def place_prefix(text: str) -> str | None:
    """The longest leading name (2–12 characters) that ends with an administrative suffix: '郴州市…' → 郴州市
    (not 郴州, though 州 is a suffix too), '和田地区…' → 和田地区, '中共上街区委办公室' → 上街区."""
    text = PARTY_PREFIX_RE.sub("", text)
    found = None
    for end in range(2, min(len(text), 12) + 1):
        if not re.fullmatch(r"[\u4e00-\u9fff]+", text[:end]):
            break
        if text[:end].endswith(ADMIN_SUFFIX) and len(text[:end]) >= 2:
            found = text[:end]
    return None if found in GENERIC_PLACES else found


def place_of_title(head: str) -> str | None:
    """The place a title speaks for: its leading words up to an administrative suffix (哈密市, 湘西自治州)."""
    place = place_prefix(head)
    if not place:
        return "全国" if head.startswith(("中华人民共和国", "全国", "中国")) else None
    return place


def place_of_office(office: str) -> str | None:
    """The place an issuing office serves: '哈密市统计局' → 哈密市, '国家统计局哈密调查队' → 哈密, '博州统计局' → 博州."""
    name = NATIONAL_OFFICE_PREFIX_RE.sub("", _plain(office))
    place = place_prefix(name)
    if place:
        return place
    office_kind = OFFICE_RE.search(name)
    if office_kind and name != _plain(office):  # 国家统计局哈密调查队: the words between the two offices
        head = name[: office_kind.start()]
        return head if 2 <= len(head) <= 8 else None
    return None


def short_forms(place: str) -> list[str]:
    """The names a place goes by: the full name and the name without its administrative suffix
    (郑州市 → 郑州; 湘西自治州 → 湘西; 和田地区 → 和田). A one-character stem is not a name of its own."""
    forms = [place]
    for suffix in ADMIN_SUFFIX:
        if place.endswith(suffix) and len(place) - len(suffix) >= 2:
            forms.append(place[: -len(suffix)])
            break
    return forms


def find_title(lines: list[str], limit: int = 120) -> TitleBlock | None:
    """The first title in the first `limit` lines, reading a title split over two lines as one."""
    for position, line in enumerate(lines[:limit]):
        found = read_title(line)
        if found:
            return TitleBlock(position, 1, found.title, found.series, found.period, found.place)
        if position + 1 < len(lines) and len(line) <= 30 and not TITLE_KIND_RE.search(_plain(line)) \
                and not read_title(lines[position + 1]) and not read_date(line) \
                and not re.search(r"[\u4e00-\u9fff]\s+[\u4e00-\u9fff]", line):
            joined = read_title(line + lines[position + 1])
            if joined and TITLE_YEAR_RE.search(line) or joined and place_of_title(_plain(line)):
                return TitleBlock(position, 2, joined.title, joined.series, joined.period, joined.place)
    return None


def read_date(line: str) -> str | None:
    """An ISO date from a date line ('2026年4月24日', '（2026年3月31日）', '发布时间：2026-04-30 10:00'),
    or 'YYYY-MM' when only the month is printed ('2026 年 5 月'); None for any other line."""
    stamp = STAMP_DATE_RE.search(line)
    match = stamp or LINE_DATE_RE.match(line.strip())
    if not match:
        return None
    year, month, day = match.group(1), match.group(2), match.group(3)
    try:
        if day:
            return dt.date(int(year), int(month), int(day)).isoformat()
        dt.date(int(year), int(month), 1)
        return f"{year}-{int(month):02d}"
    except ValueError:
        return None


def read_offices(line: str) -> list[str]:
    """Issuing offices on a line ('X市统计局 国家统计局X调查队', '来源：X市统计局'), or [] for any other line."""
    source = SOURCE_LINE_RE.search(line.strip())
    if source:
        # '来源：岳阳市统计局2026-04-30', '来源：博州统计局点击量：': the longest run that ends like an office.
        text = re.split(r"[\s:：]", source.group(1).strip())[0]
        ends = [end for end in range(len(text), 1, -1) if OFFICE_RE.search(text[:end])]
        return [text[: ends[0]]] if ends else []
    text = line.strip()
    parts = [part for part in re.split(r"\s+|、", text) if part]
    if not parts or len(text) > 60 or any(not OFFICE_RE.search(part) or len(part) > 30 for part in parts):
        return []
    return parts
