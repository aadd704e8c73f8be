"""Parallel lists: 'A、B、C…提升至 x、y、z' pairs each name with its figure.

Chinese writes a suffix shared by every member once, after the last one: in '城市学校、农村学校团组织覆盖率
提升至92.5%、87%' both members are 团组织覆盖率s. Both the fact table (no question at hand) and the answers
(a question at hand) read lists here. Pure functions over strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Members and figures alike are separated by 、 or joined by 和/及/与 (第一、二、三产业…分别为 a、b 和 c).
LIST_SEPARATOR_RE = re.compile(r"\s*(?:、|和|及|与)\s*")
NAME_SEPARATOR_RE = re.compile(r"\s*、\s*")
LIST_FIGURES_RE = re.compile(r"((?:\d+(?:\.\d+)?\s*%?\s*(?:、|和|及|与)\s*)+\d+(?:\.\d+)?\s*%?)")
# The verb between the names and their figures.
LIST_VERB_RE = re.compile(r"(提升至|提高到|提高至|达到|达|分别为|分别是|分别达|增至|降至|为)\s*$")
# One figure of a run of figures (92.5%、87%): the bare number, a space allowed before %, as LIST_FIGURES_RE.
LISTED_FIGURE_RE = re.compile(r"\d+(?:\.\d+)?\s*%?")


@dataclass(frozen=True)
class ParallelList:
    """A list of names paired one to one with a list of figures, as written in one clause."""

    names: tuple[str, ...]  # as written: the shared suffix is still on the last one
    figures: tuple[str, ...]
    figure_starts: tuple[int, ...]  # offset of each figure in the clause


def parallel_list(clause: str) -> ParallelList | None:
    """The clause's names and figures when there are as many of each (two or more), else None."""
    found = LIST_FIGURES_RE.search(clause)
    if not found:
        return None
    figures = [(found.start(1) + m.start(), m.group().strip()) for m in LISTED_FIGURE_RE.finditer(found.group(1))]
    head = clause[:found.start()]
    verb = LIST_VERB_RE.search(head)
    subject = head[:verb.start()] if verb else head
    # 、 separates members; 和/及/与 may too ("a、b和c"), or join words inside one member ("信息传输软件和信息技术
    # 服务业、租赁和商务服务业"): the split that pairs with the figures is the one meant, 、 alone first.
    for separator in (NAME_SEPARATOR_RE, LIST_SEPARATOR_RE):
        names = [name for name in separator.split(subject) if name]
        if len(names) == len(figures) >= 2:
            return ParallelList(tuple(names), tuple(text for _, text in figures), tuple(start for start, _ in figures))
    return None


def suffix_by_shape(names: tuple[str, ...] | list[str]) -> str:
    """The suffix the last name shares with the list, from the list's shape alone ('' when the shape does not say):

    - the other members end alike and the last name does too, part way: the rest is shared ('高技术制造业、装备
      制造业增加值' → 增加值; '城市学校、农村学校团组织覆盖率' → 团组织覆盖率);
    - else the other members are all of one width: what the last name has beyond it ('城镇、农村居民人均可支配收入');
      the first member may carry a prefix written once ('第一、二、三产业…': the middle members say the width)."""
    others, last = names[:-1], names[-1]
    ending = _common_ending(others)
    for size in range(len(ending), 1, -1):  # the longest end of theirs that the last name has part way
        cut = last.find(ending[-size:])
        if 0 < cut and cut + size < len(last):
            return last[cut + size:]
    for group in (others, names[1:-1]):
        widths = {len(name) for name in group}
        if len(widths) == 1 and len(last) > min(widths) + 1:
            return last[min(widths):]
    return ""


def _common_ending(names) -> str:
    """The longest ending every name has ('高技术制造业', '制造业' → '制造业')."""
    ending = names[0] if names else ""
    for name in names[1:]:
        while ending and not name.endswith(ending):
            ending = ending[1:]
    return ending


def ordinal_prefix(names: list[str]) -> list[str]:
    """'第一、二、三产业': the 第 of an ordinal is written once, before the first member; it spreads to every
    member that is a bare numeral."""
    if names and re.match(r"第[一二三四五六七八九十]", names[0]):
        return [names[0]] + ["第" + name if re.match(r"[一二三四五六七八九十]", name) else name for name in names[1:]]
    return names


def suffix_by_longest(names: tuple[str, ...] | list[str]) -> str:
    """Without a question to say it: the last member is taken to be no longer than the longest other member
    (members of a list are alike), and the rest of the last name is the shared suffix ('园区、重点非公企业、…、
    行业协会商会党组织覆盖率' → 党组织覆盖率). '' when the last name is no longer than that."""
    longest = max(len(name) for name in names[:-1])
    return names[-1][longest:] if len(names[-1]) > longest + 1 else ""


def spread(names: tuple[str, ...] | list[str], suffix: str) -> list[str]:
    """Every member with the shared suffix; a member that already ends as the suffix begins is not doubled
    ('城市学校、农村学校团组织…')."""
    if not suffix:
        return ordinal_prefix(list(names))
    members = list(names[:-1]) + [names[-1][:len(names[-1]) - len(suffix)]]
    full = []
    for name in members:
        overlap = next((k for k in range(min(len(name), len(suffix)), 0, -1) if name.endswith(suffix[:k])), 0)
        full.append(name + suffix[overlap:])
    return ordinal_prefix(full)
