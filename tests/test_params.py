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
