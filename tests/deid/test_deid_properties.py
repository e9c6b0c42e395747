"""Property tests: whatever the surrounding text, the engine's promises hold."""
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.deid import fakes
from portal.deid import validators as v
from portal.deid.engine import Deidentifier
from portal.deid.policies import builtin_policies

SECRET = b"property-secret"
DEFAULT = Deidentifier(builtin_policies()["default"], SECRET)
PSEUDO = Deidentifier(builtin_policies()["pseudonymize"], SECRET)

filler = st.text(alphabet=st.sampled_from("的是了我你 ,.，。abcXYZ:-@/（）"), max_size=12)
values = st.sampled_from([
    "13812345678", "138 1234 5678", "+86 13912345678", "010-12345678", "11010519491231002X",
    "6222021234567890128", "4111 1111 1111 1111", "91110000600037341L", "京A12345", "abc@example.com",
    "10.20.30.40", "2001:db8::7", "https://example.com/x?q=1", "１３８１２３４５６７８",
])
documents = st.lists(st.tuples(filler, values), min_size=1, max_size=4).map(
    lambda pairs: "".join(f + (" " if f[-1:].isascii() else "") + v + " " for f, v in pairs)
)
SETTINGS = settings(max_examples=60, deadline=None)


@SETTINGS
@given(documents)
def test_no_detected_value_survives_and_offsets_slice_the_original(text):
    result = DEFAULT.run([text], return_mapping=True).results[0]
    for entity in result["entities"]:
        original = text[entity["start"]:entity["end"]]
        assert original
        assert original not in result["text"]
    assert len(result["entities"]) >= 1


@SETTINGS
@given(documents, st.integers(0, 2**32))
def test_determinism_under_a_seed(text, seed):
    first = PSEUDO.run([text], seed=seed, return_mapping=True)
    second = PSEUDO.run([text], seed=seed, return_mapping=True)
    assert first.results == second.results and first.mapping == second.mapping


@SETTINGS
@given(documents)
def test_output_is_rebuilt_from_the_entities(text):
    result = DEFAULT.run([text]).results[0]
    pieces, last = [], 0
    for entity in result["entities"]:
        assert entity["start"] >= last
        pieces += [text[last:entity["start"]], entity["replacement"]]
        last = entity["end"]
    assert "".join(pieces) + text[last:] == result["text"]


@SETTINGS
@given(st.integers(0, 2**63))
def test_pseudonyms_validate(seed):
    rng = random.Random(seed)
    assert v.is_mobile(fakes.fake("PHONE", "13812345678", rng))
    assert v.is_id_card(fakes.fake("ID_CARD", "11010519491231002X", rng))
    assert v.is_legacy_id_card(fakes.fake("ID_CARD", "110105491231002", rng))
    card = fakes.fake("BANK_CARD", "6222021234567890128", rng)
    assert v.luhn_ok(card) and len(card) == 19
    assert v.is_uscc(fakes.fake("USCC", "91110000600037341L", rng))


@SETTINGS
@given(st.text(max_size=40))
def test_arbitrary_text_never_breaks_the_engine(text):
    result = DEFAULT.run([text]).results[0]
    for entity in result["entities"]:
        assert 0 <= entity["start"] < entity["end"] <= len(text)
