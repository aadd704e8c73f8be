"""Figures as the text writes them: a number is never cut before its decimal point."""

import pytest

from qa.guard import check_figures
from qa.figures import parse_figures


@pytest.mark.parametrize("text,figures", [
    # encyclopedia: a figure with a Latin unit symbol is not taken apart ("0" of "0.5mil" is no figure)
    ("方位与仰俯精度±0.5mil。", []),
    ("雷射测距精度±5m，方位精度±0.5mil，重 2.5 吨", ["2.5 吨"]),
    # bulletins
    ("全区持证人数达 434 人，同比增长 61.5%。", ["434 人", "61.5%"]),
    ("赤字率拟按2.8%安排，国内生产总值增长5.0%左右", ["2.8%", "5.0%"]),
])
def test_a_number_is_never_cut_before_its_decimal_point(text, figures):
    found = [figure for _, _, figure, _, _ in parse_figures(text)]
    assert found == figures
    # whatever is found as a figure is a number the quote holds whole
    assert check_figures(" ".join(found), [text]) == []
