"""The last line of defence: every number of an answer must stand in one of its quotes, else the answer
becomes an abstention that keeps what it caught (so the eval can count it)."""

from __future__ import annotations

import re

from qa.figures import NUMBER_RE
from qa.records import Answer
from qa.tokens import normalise


def numbers_in(text: str) -> list[str]:
    """Every number written with digits in text (full-width normalised), e.g. ['434', '61.5']."""
    return NUMBER_RE.findall(normalise(text))


def check_figures(answer_text: str, quotes: list[str], computed: list[str] = ()) -> list[str]:
    """Numbers in the answer that appear in none of the quotes (nor as a shown computation's result).

    Returns:
        The unsupported numbers; empty when the answer keeps the product's promise.
    """
    supported = set(computed)
    for quote in quotes:
        supported.update(numbers_in(quote))
    return [number for number in numbers_in(answer_text) if number not in supported]


def unsupported_figures(answer: Answer) -> list[str]:
    """Numbers in an answer that none of its quotes holds. Allowed besides the quotes: the result of a shown
    computation ('29 − 16 = 13') and a table row's period label ('2023 年', from the row's citation)."""
    if answer.abstained:
        return []
    computed = re.findall(r"=\s*(\d+(?:\.\d+)?)", answer.answer)
    computed += [row.period for row in answer.table]
    return check_figures(answer.answer, [c.quote for c in answer.citations], computed)


def guard(answer: Answer) -> Answer:
    """Downgrade an answer whose numbers are not all in its quotes to an abstention (the product's promise);
    the abstention keeps the caught numbers in `guard_caught`, so the eval can count what the guard stopped."""
    if answer.abstained:
        return answer
    unsupported = unsupported_figures(answer)
    if unsupported:
        return Answer(answer.question, "公报中未找到能可靠支持这个答案的原文，暂不作答。", True,
                      related=answer.citations, effective_question=answer.effective_question,
                      seconds=answer.seconds, guard_caught=tuple(unsupported))
    return answer
