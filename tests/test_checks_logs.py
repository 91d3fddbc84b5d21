from healer.checks.logs import clean, trim

TRACEBACK = """Traceback (most recent call last):
  File "/work/app.py", line 10, in <module>
    main()
  File "/work/app.py", line 7, in main
    return compute(0)
  File "/work/calc.py", line 3, in compute
    return 1 / x
ZeroDivisionError: division by zero"""


def _noise(lines: int) -> str:
    return "\n".join(f"processing item {i} of the batch, all fine" for i in range(lines))


def test_short_logs_are_kept_whole():
    assert trim("line one\nline two") == "line one\nline two"


def test_pip_progress_and_colours_are_dropped():
    log = "\x1b[31mCollecting requests\x1b[0m\n  Downloading requests-2.32.whl (64 kB)\nreal error here"
    assert clean(log) == ["real error here"]


def test_carriage_return_updates_keep_their_last_state():
    assert clean("10%\r50%\r100% done") == ["100% done"]


def test_long_log_keeps_the_traceback_whole_and_marks_the_gaps():
    log = _noise(400) + "\n" + TRACEBACK + "\n" + _noise(400)
    out = trim(log, max_chars=2000)
    assert TRACEBACK in out
    assert "[... " in out
    assert len(out) < 2600


def test_pytest_failure_sections_are_kept_with_their_diffs():
    section = "_________________________ test_mean _________________________\n    def test_mean():\n>       assert mean([2, 4]) == 3\nE       assert 2.0 == 3\nE        +  where 2.0 = mean([2, 4])\n\ntest_stats.py:9: AssertionError"
    log = _noise(300) + "\n" + section + "\n=========== short test summary info ===========\n" + _noise(5)
    out = trim(log, max_chars=1500)
    assert section in out


def test_an_oversized_block_keeps_head_and_tail():
    frames = "\n".join(f'  File "/work/m.py", line {i}, in f{i}\n    f{i + 1}()' for i in range(500))
    log = "Traceback (most recent call last):\n" + frames + "\nRecursionError: maximum depth"
    out = trim(log, max_chars=1500)
    assert out.startswith("Traceback (most recent call last):")
    assert out.endswith("RecursionError: maximum depth")
    assert "lines ...]" in out
    assert len(out) < 2000
