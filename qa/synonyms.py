"""A small, documented table of indicator synonyms, used to expand questions for matching only.

Residents say GDP or 经济增长 where reports write 国内生产总值; CPI where they write 居民消费价格. Each entry
maps a way people ask to the way bulletins write. Expansion adds words to what is matched; the quoted text
is never changed.
"""

from __future__ import annotations

from functools import lru_cache

SYNONYMS: dict[str, tuple[str, ...]] = {
    "gdp": ("国内生产总值",),
    # Reports before 1993 headline 国民生产总值 (GNP) where later ones write 国内生产总值 (GDP).
    "经济增长": ("国内生产总值增长", "国民生产总值增长"),
    "经济增速": ("国内生产总值增长", "国民生产总值增长"),
    "经济总量": ("国内生产总值",),
    "cpi": ("居民消费价格", "物价"),
    "物价": ("居民消费价格",),
    "通胀": ("居民消费价格",),
    "失业率": ("城镇调查失业率", "城镇登记失业率"),
    "就业": ("城镇新增就业",),
    "赤字": ("赤字率", "财政赤字"),
    "粮食": ("粮食产量",),
    "社工": ("社会工作者",),
    "调解": ("化解",),  # 调解矛盾纠纷 is written 化解矛盾纠纷
    "持证社工": ("持证人数", "社会工作者"),
    "社工证": ("持证人数", "社会工作者职业资格"),  # 持有社工证 = holds the 社会工作者职业资格 certificate
    "矛盾调解": ("矛调",),  # the usual abbreviation: 矛调组织, 矛调中心
    "矛盾纠纷调解": ("矛调",),
    "外卖员": ("骑手", "新就业群体"),
    "快递小哥": ("骑手", "新就业群体"),
}


@lru_cache(maxsize=4096)  # a fact lookup expands the same question once per distinct indicator
def expand(question: str) -> str:
    """The question followed by the written forms of any synonyms it uses (lower-cased match)."""
    lowered = question.lower()
    extra = [written for asked, forms in SYNONYMS.items() if asked in lowered for written in forms
             if written not in question]
    return question if not extra else question + " " + " ".join(dict.fromkeys(extra))


def written_forms(indicator: str) -> tuple[str, ...]:
    """An asked indicator and, when it is a synonym's asked form itself, the written forms ('经济增长' →
    国内生产总值增长…). Only the whole indicator counts: '零售物价' is not '物价', nor '赤字率' '赤字'."""
    return tuple(dict.fromkeys([indicator, *SYNONYMS.get(indicator.lower(), ())]))
