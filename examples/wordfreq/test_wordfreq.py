from wordfreq import count_words, top_words


def test_counts_are_case_insensitive():
    assert count_words("The cat and the hat") == {"the": 2, "cat": 1, "and": 1, "hat": 1}


def test_punctuation_is_not_part_of_words():
    assert count_words("Hello, world! Hello?") == {"hello": 2, "world": 1}


def test_apostrophes_and_digits_stay():
    assert count_words("don't stop 2 don't") == {"don't": 2, "stop": 1, "2": 1}


def test_empty_text():
    assert count_words("  ...  ") == {}


def test_top_words_orders_by_count_then_word():
    text = "b a c b a b"
    assert top_words(text, 2) == [("b", 3), ("a", 2)]
    assert top_words("z y x", 3) == [("x", 1), ("y", 1), ("z", 1)]


def test_top_words_with_non_positive_n():
    assert top_words("a b", 0) == []
    assert top_words("a b", -1) == []
