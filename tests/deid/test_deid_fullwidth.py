"""Full-width and ASCII text mixed: what is found must not depend on full-width characters
elsewhere in the text (issue 15.33). The scanner folds full-width forms to ASCII when a text has
full-width letters or digits, so a full-width colon before an address becomes ':' there."""
import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from portal.deid.engine import Deidentifier
from portal.deid.policies import builtin_policies

DEFAULT = Deidentifier(builtin_policies()["default"], b"property-secret")
FULL_WIDTH = "".join(chr(c) for c in range(0xFF10, 0xFF1A)) + "ａｂｃＸＹＺ"
mixed = st.text(alphabet=st.sampled_from("的是了我你用户登录 ,.，。：（）abcXYZ" + FULL_WIDTH), max_size=16)
labels = st.sampled_from(["IPv6", "IP", "ip", "地址", "IPv6地址", "host"])
colons = st.sampled_from(["：", ":", " ", "：", "= "])
addresses = st.ip_addresses(v=6).map(ipaddress.IPv6Address).filter(
    lambda a: a.ipv4_mapped is None and not a.compressed.startswith("::") and not a.compressed.endswith("::"))
spellings = st.sampled_from(["compressed", "exploded"])
SETTINGS = settings(max_examples=150, deadline=None)


def ips(text):
    return [(e["start"], e["end"]) for e in DEFAULT.run([text]).results[0]["entities"] if e["type"] == "IP"]


def test_the_reported_text():
    address = "17ed:1dd1:38d3:8bd:f8a9:f9a2:72b4:9695"
    text = f"用户登录IPv6：{address}，手机号１９３４５６６２７０６"
    entities = DEFAULT.run([text]).results[0]["entities"]
    assert sorted(e["type"] for e in entities) == ["IP", "PHONE"]
    (start, end), = ips(text)
    assert text[start:end] == address


@SETTINGS
@given(mixed, labels, colons, addresses, spellings, mixed)
def test_an_ipv6_address_is_found_whatever_full_width_text_is_around(left, label, colon, address, spelling, right):
    written = getattr(address, spelling)
    text = f"{left} {label}{colon}{written}，{right}"
    start = len(f"{left} {label}{colon}")
    assert (start, start + len(written)) in ips(text), text


@SETTINGS
@given(mixed, labels, colons, addresses, mixed)
def test_full_width_digits_after_an_address_do_not_hide_it(left, label, colon, address, digits):
    text = f"{left} {label}{colon}{address.compressed}"
    before = ips(text)
    assert ips(text + "，手机号" + "".join(chr(0xFF10 + int(d)) for d in "19345662706") + digits) [:len(before)] == before
