import re

import pytest

from bench.errors import BenchError
from bench.params import Spec, bind, digest, parse_spec


class Det:
    def __init__(self, *, k: float = 3.0, n: int = 5, hidden: tuple[int, ...] = (32, 16),
                 act: str = "relu", flag: bool = False, bw: float | None = None):
        pass


def test_parse_spec_keeps_colons_inside_values():
    s = parse_spec("min_cost:grid=linspace:1e4:2e5:200")
    assert s == Spec("min_cost", {"grid": "linspace:1e4:2e5:200"})
    assert parse_spec("kde") == Spec("kde", {})
    assert parse_spec("x:a=1, b=2").params == {"a": "1", "b": "2"}


def test_bind_converts_to_annotated_types_and_fills_defaults():
    p = bind("detector", "det", Det, {"k": "2.5", "n": "1e2", "hidden": "64-8", "flag": "yes",
                                      "bw": "none"})
    assert p == {"k": 2.5, "n": 100, "hidden": (64, 8), "act": "relu", "flag": True, "bw": None}
    assert bind("detector", "det", Det, {"bw": "0.5"})["bw"] == 0.5


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(BenchError, match=r"detector 'det' has no parameter 'kk'; its parameters: "
                                         r"k, n, hidden, act, flag, bw"):
        bind("detector", "det", Det, {"kk": "1"})


@pytest.mark.parametrize("key,raw,typ", [("k", "abc", "float"), ("n", "2.5", "int"),
                                         ("flag", "maybe", "bool")])
def test_bad_value_names_parameter_and_type(key, raw, typ):
    with pytest.raises(BenchError, match=f"parameter '{key}' expects {typ}, got '{raw}'"):
        bind("detector", "det", Det, {key: raw})


def test_bad_spec_syntax():
    with pytest.raises(BenchError, match="write key=value"):
        parse_spec("kde:bandwidth")


def test_digest_is_order_independent():
    assert digest({"a": 1, "b": (1, 2)}) == digest({"b": [1, 2], "a": 1})
    assert digest({"a": 1}) != digest({"a": 2})


# ----------------------------------------------------------------------------- issue 22


def test_declared_constraints_are_checked_when_binding():
    from bench.params import Interval, Options, bind, check_seeds

    class Det:
        _parameter_constraints = {"k": [Interval(int, 1, 10)], "alpha": [
            Interval(float, 0, 1, closed="neither"), None], "mode": [Options("a", "b"), "auto"]}

        def __init__(self, *, k: int = 3, alpha: float | None = None, mode: str = "auto"):
            pass

    assert bind("detector", "d", Det, {"k": "10", "alpha": "0.5", "mode": "b"}) == \
        {"k": 10, "alpha": 0.5, "mode": "b"}
    assert bind("detector", "d", Det, {"alpha": "none"})["alpha"] is None
    for given, text in [({"k": "0"}, "'k' = 0 is out of range: it must be a whole number in "
                                     "[1, 10]"),
                        ({"k": "11"}, "'k' = 11"), ({"alpha": "1"}, "in (0, 1) or None"),
                        ({"mode": "c"}, "one of 'a', 'b' or 'auto'")]:
        with pytest.raises(BenchError, match=re.escape(text)):
            bind("detector", "d", Det, given)
    assert check_seeds([0, 2**32 - 1]) == [0, 2**32 - 1]
    for bad in (-1, 2**32, True):
        with pytest.raises(BenchError, match="a seed must be a whole number from 0 to"):
            check_seeds([bad])


def test_integers_are_bounded_by_int64():
    from bench.params import convert

    assert convert(str(2**63 - 1), int, where="w") == 2**63 - 1
    with pytest.raises(BenchError, match="an integer of magnitude at most"):
        convert("9" * 23, int, where="w")
    with pytest.raises(BenchError, match="an integer of magnitude at most"):
        convert("1e30", int, where="w")


@pytest.mark.parametrize("value, why", [
    ("0", "out of range"), ("32-0-8", "out of range"),
    ("-3", "none of them empty"), ("32--8", "none of them empty"), ("32-", "none of them empty")])
def test_sequence_parameters_refuse_empty_or_out_of_range_elements(value, why):
    """``dense_ae:hidden=32-16-8``: every element is checked (Each), and an empty element (a
    leading '-' read as a minus sign, a doubled '-') is refused instead of dropped."""
    from bench import api

    with pytest.raises(BenchError) as exc:
        api.plan(["synthetic:n_series=1"], [f"dense_ae:hidden={value}"])
    assert "parameter 'hidden'" in str(exc.value) and why in str(exc.value)
    from bench.detectors.autoencoders import DenseAE

    assert bind("detector", "dense_ae", DenseAE, {"hidden": "32/16"})["hidden"] == (32, 16)
