import subprocess
import sys
from pathlib import Path

import pytest
from inventory import Inventory

HERE = Path(__file__).resolve().parent


def test_counts_add_up_and_are_listed_in_order():
    stock = Inventory()
    stock.add("pears", 3)
    stock.add("apples", 2)
    stock.add("pears", 1)
    assert stock.count("pears") == 4 and stock.count("plums") == 0
    assert stock.items() == [("apples", 2), ("pears", 4)]


def test_an_item_at_zero_is_no_longer_listed():
    stock = Inventory()
    stock.add("apples", 2)
    stock.remove("apples", 2)
    assert stock.items() == [] and stock.count("apples") == 0


@pytest.mark.parametrize("qty", [0, -1, 1.5, "2"])
def test_a_quantity_must_be_a_positive_integer(qty):
    stock = Inventory()
    with pytest.raises(ValueError):
        stock.add("apples", qty)
    with pytest.raises(ValueError):
        stock.remove("apples", qty)


def test_removing_more_than_there_is_changes_nothing():
    stock = Inventory()
    stock.add("apples", 2)
    with pytest.raises(ValueError):
        stock.remove("apples", 3)
    assert stock.count("apples") == 2


def test_the_report_applies_every_line_and_reports_the_bad_ones(tmp_path):
    moves = tmp_path / "moves.txt"
    moves.write_text("# stock take\nadd pears 3\n\nadd apples 2\nremove pears 5\n"
                     "sell apples 1\nadd plums\nremove pears 1\n")
    done = subprocess.run([sys.executable, str(HERE / "report.py"), str(moves)],
                          capture_output=True, text=True, cwd=HERE, timeout=30, check=False)
    assert done.stdout.splitlines() == ["apples: 2", "pears: 2"]
    errors = done.stderr.splitlines()
    assert [e.split(":")[0] for e in errors] == ["line 5", "line 6", "line 7"]
    assert "unknown command" in errors[1] and "expected: COMMAND NAME QTY" in errors[2]
    assert done.returncode == 1
