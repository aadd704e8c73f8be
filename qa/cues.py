"""The format's cue words in one place: what marks a figure as a plan, a bound, a change, and what a
question says to ask for a plan.

Both the fact table (qa/facts.py) and the answers (qa/candidates.py, qa/trend.py) read figures with these, so a
figure is a target in the table exactly when the answer treats it as one.
"""

from __future__ import annotations

import re

# Words that make a figure planned wherever they stand before it in its clause ("赤字率拟按3%安排",
# "力争新增就业1100万人", "主要预期目标是："). 预计 is left out: "预计全年增长5%" estimates an outcome.
# 要 with a disposal, causative or starting-point marker states an intention too: "要把物价上涨幅度控制在百分之十
# 以内", "物价涨幅要从14.8%降到10%左右".
PLAN_WORDS_RE = re.compile(r"拟|目标|力争|预期|计划|(?<![主需重必只纲])要[把将使让从]")
# A bound written right after a figure: "5%左右", "1200万人以上", "3%以内". "规模以上工业" is a noun, so the
# bound must follow a figure, at most a unit's few characters after it.
BOUND_AFTER_RE = re.compile(r"^[^\d，。；、,;\s]{0,3}?\s*(左右|以上|以内|以下)")
# Verbs of holding a level: a plan when a sentence speaks of the coming year ("今年…控制在3%以内"), an outcome in
# a review ("财政赤字率控制在2.8%").
HOLD_WORDS_RE = re.compile(r"控制在|保持在")
# Relative years: the offset from the year a text speaks from (or the day a question is asked).
RELATIVE_YEARS = {"今年": 0, "本年": 0, "去年": -1, "上年": -1, "前年": -2, "明年": 1}
# A text looking back on the year before its own (a report's review) or speaking of its own year (its plan).
PAST_YEAR_CUES = ("过去一年", "一年来", "去年", "上年", "上一年")
THIS_YEAR_CUES = ("今年", "本年")
# After 比/较/同/于 a year word is a comparison base ("比上年增长5%"), not the year spoken of.
NOT_AFTER_COMPARISON = r"(?<![比较同于])"
# A figure measured against a base is a difference, even inside a plan: "拟按4%左右安排、比上年提高1个百分点".
COMPARISON_BASE_RE = re.compile(r"[比较](?:上年|去年|前一年|上一年)(?:同期|末|年初预算|预算)?|同比|环比")
COMPARED_FIGURE_RE = re.compile(rf"(?:{COMPARISON_BASE_RE.pattern})[^\d，。；,;]{{0,8}}$")  # the base, then its verb
# Direction words right before a figure make it a change ("增长5.2%"), unless they lead to a level
# ("提高到2.3%", "降至5.5%").
CHANGE_BEFORE_RE = re.compile(r"(增长|下降|提高|提升|上涨|降低|增加|减少|同比|比上年|较上年|回落|上升|增幅|涨幅)"
                              r"(?![到至为])[^，。；到至]{0,4}$")
# The figures before a figure in a list share its verb: "分别增长8.9%、7.7%" — 7.7% is a change too.
LISTED_BEFORE_RE = re.compile(r"(?:\d+(?:\.\d+)?\s*[%％]?\s*、\s*)+$")

# A question that asks for a plan: "目标是多少", "拟安排多少", "单位GDP能耗要降低多少".
QUESTION_PLAN_RE = re.compile(r"目标|预期|计划|拟|安排|打算|定的|定为|定了|确定为|预计|"
                              r"(?<![主需重必只])要[\u4e00-\u9fff]{1,3}(?:多少|几)")


def bound_after(text_after_figure: str) -> str:
    """左右/以上/以内/以下 written right after a figure, or ''."""
    match = BOUND_AFTER_RE.match(text_after_figure)
    return match.group(1) if match else ""
