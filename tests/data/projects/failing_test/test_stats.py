from stats import mean


def test_mean_of_one():
    assert mean([4]) == 4


def test_mean_of_two():
    assert mean([2, 4]) == 3
