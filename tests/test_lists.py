"""Parallel lists (qa/lists.py): the suffix written once after the last member spreads over every member, found
from the list's shape, the same for the fact table (no question) and the answers. Lists from five sources: the
seed bulletin, the issue's school example, two statistical bulletins' sector shares, the 2025 government work
report."""

import pytest

from qa.facts import _list_members
from qa.lists import parallel_list, spread, suffix_by_longest, suffix_by_shape

PARTY_LIST = "园区、重点非公企业、社会组织、行业协会商会党组织覆盖率提升至 92.5%、87%、94%、91%"  # seed bulletin
SCHOOL_LIST = "城市学校、农村学校团组织覆盖率提升至92.5%、87%"  # issue #12
SECTOR_ORDINALS = "第一、二、三产业增加值占地区生产总值的比重分别为10.6%、19.3%和70.1%"  # a city's 统计公报
SECTOR_FULL = "第一产业、第二产业、第三产业增加值占生产总值的比重分别为 14.7%、20.6%、64.7%"  # another city's


def test_parallel_list_pairs_names_and_figures():
    listed = parallel_list(PARTY_LIST)
    assert listed.names == ("园区", "重点非公企业", "社会组织", "行业协会商会党组织覆盖率")
    assert listed.figures == ("92.5%", "87%", "94%", "91%")
    assert [PARTY_LIST[start:start + len(text)] for start, text in zip(listed.figure_starts, listed.figures)] == \
        list(listed.figures)
    assert parallel_list(SECTOR_ORDINALS).figures == ("10.6%", "19.3%", "70.1%")  # 和 joins the last figure


@pytest.mark.parametrize("clause", ["全区持证人数达 434 人，同比增长 61.5%",  # no list
                                    "城市学校、农村学校团组织覆盖率提升至92.5%",  # two names, one figure
                                    "覆盖率分别为92.5%、87%"])  # figures without names
def test_no_parallel_list(clause):
    assert parallel_list(clause) is None


def test_suffix_rules():
    # the others end alike, and so does the last name part way
    assert suffix_by_shape(["城市学校", "农村学校团组织覆盖率"]) == "团组织覆盖率"
    assert suffix_by_shape(["高技术制造业", "装备制造业增加值"]) == "增加值"  # 6 and 5 characters: width would cut 加值
    # else one width: of the others, or of the middle members when the first carries a prefix (第)
    assert suffix_by_shape(["城镇", "农村居民人均可支配收入"]) == "居民人均可支配收入"
    assert suffix_by_shape(["第一", "二", "三产业增加值"]) == "产业增加值"
    assert suffix_by_shape(["园区", "重点非公企业", "社会组织", "行业协会商会党组织覆盖率"]) == ""
    assert suffix_by_longest(["园区", "重点非公企业", "社会组织", "行业协会商会党组织覆盖率"]) == "党组织覆盖率"
    assert spread(["城市学校", "农村学校团组织覆盖率"], "团组织覆盖率") == ["城市学校团组织覆盖率", "农村学校团组织覆盖率"]
    assert spread(["第一", "二", "三产业"], "产业") == ["第一产业", "第二产业", "第三产业"]  # 第 is written once too


@pytest.mark.parametrize("clause, expected", [
    (PARTY_LIST, ["园区党组织覆盖率", "重点非公企业党组织覆盖率", "社会组织党组织覆盖率", "行业协会商会党组织覆盖率"]),
    (SCHOOL_LIST, ["城市学校团组织覆盖率", "农村学校团组织覆盖率"]),
    (SECTOR_ORDINALS, [f"第{n}产业增加值占地区生产总值的比重" for n in "一二三"]),
    (SECTOR_FULL, [f"第{n}产业增加值占生产总值的比重" for n in "一二三"]),
    ("推动小学、初中和高中入学率稳定在99%、98%和95%", ["小学入学率", "初中入学率", "高中入学率"]),
    # the 2025 government work report: 和 inside a member, members of different widths
    ("信息传输软件和信息技术服务业、租赁和商务服务业增加值分别增长10.9%、10.4%",
     ["信息传输软件和信息技术服务业增加值", "租赁和商务服务业增加值"]),
    ("高技术制造业、装备制造业增加值分别增长8.9%、7.7%", ["高技术制造业增加值", "装备制造业增加值"]),
    ("城镇、农村居民人均可支配收入分别增长5.0%、6.6%", ["城镇居民人均可支配收入", "农村居民人均可支配收入"]),
])
def test_fact_table_names_every_member(clause, expected):
    """The fact table has no question to say the suffix: it is found from the list's shape alone."""
    assert list(_list_members(clause).values()) == expected
