"""The compiled engine (``portal.deid.native``): the same results as the pure-Python one, and
never an old build for edited sources."""
import json
import os
import random
import shutil
import subprocess
import sys

import pytest

from portal.deid import native
from portal import ROOT
from tests.support import required_services

# De-identifies texts with values, look-alikes and noise under several policies, and prints
# whether the compiled modules ran, the results and the mappings.
SCRIPT = r"""
import json, sys
from portal.deid import native, parallel
from portal.deid.engine import Deidentifier
from portal.deid.policies import builtin_policies, parse_policy
import io
texts = json.load(sys.stdin)
policies = builtin_policies()
policies["custom"] = parse_policy("extends: default\nentities: {PASSPORT: {operator: tag, context: optional}, "
                                  "POSTCODE: hash, EMP: {regex: 'EMP-(\\d{16})', checksum: luhn}}\nallow: ['10086']\n")
out = {"active": native.active()}
for name, policy in policies.items():
    engine = Deidentifier(policy, b"secret")
    result = engine.run(texts, seed=3, return_mapping=True)
    file = io.BytesIO()
    counts = parallel.deidentify(engine, io.BytesIO("\n".join(texts).encode()), file, "lines", seed=3)[0]
    out[name] = [result.results, result.mapping, file.getvalue().decode(), counts]
json.dump(out, sys.stdout, ensure_ascii=False)
"""


def noisy_texts(count: int = 3000) -> list[str]:
    """Sentences with entities in many spellings, cut and spliced with digits and separators."""
    rng = random.Random(11)
    values = ["13812345678", "138 1234 5678", "+86 137-0000-1111", "１５９１２３４５６７８", "010-62345678",
              "(0571)88886666", "110105194912310021", "11010519491231002x", "6222020200112233445",
              "6222 0202 0011 2233", "91110108MA01C2XK8B", "护照号 E85798114", "邮编 100080", "京A12345",
              "粤B·D12345", "Bob.Smith@Example.com", "13812345678@163.com", "10.0.0.7", "版本 v1.2.3.4",
              "2001:db8::1", "IPv6:FE80:0:0:0:202:B3FF:FE1E:8329", "https://x.cn/a?id=1).", "www.example.org",
              "订单号 6217000012345678901", "12:30:45", "2024-05-01 10:00", "EMP-4111111111111111", "10086",
              "3.1415926", "1.13812345678"]
    noise = "0123456789" * 3 + " -.:()+@xXE" + "，。号码电话卡"
    texts = []
    for _ in range(count):
        parts = [rng.choice(["客户", "联系方式", "note:", "请拨打", ""]) for _ in range(2)]
        for _ in range(rng.randrange(1, 4)):
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(values))
        text = rng.choice(["", " ", "，"]).join(parts)
        if rng.random() < 0.4:
            at = rng.randrange(len(text) + 1)
            text = text[:at] + "".join(rng.choice(noise) for _ in range(rng.randrange(1, 12))) + text[at:]
        texts.append(text)
    return texts


def run_engine(texts: list[str], pure: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PORTAL_DEID_PURE", None)
    if pure:
        env["PORTAL_DEID_PURE"] = "1"
    done = subprocess.run([sys.executable, "-c", SCRIPT], input=json.dumps(texts), env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True, timeout=600)
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def built():
    """The build of the current sources: made here if missing (skipped if it cannot be, and
    failed when CI requires it)."""
    try:
        return native.build()
    except (subprocess.CalledProcessError, OSError) as error:
        message = f"the engine cannot be compiled here: {error}"
        if "native" in required_services():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def test_the_compiled_engine_gives_what_the_pure_one_gives(built):
    texts = noisy_texts()
    compiled, pure = run_engine(texts, pure=False), run_engine(texts, pure=True)
    assert compiled.pop("active") is True and pure.pop("active") is False
    assert sum(len(result["entities"]) for result in pure["default"][0]) > 3000  # it found plenty
    for name in pure:
        assert compiled[name] == pure[name], name


def test_the_compiled_engine_is_what_the_tests_run_when_built(built):
    if native.pure_asked():
        pytest.skip("PORTAL_DEID_PURE=1: this pass runs the pure-Python engine")
    if not native.active():
        message = "the engine was compiled after these tests started: scripts/test compiles it first"
        if "native" in required_services():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def test_an_edited_source_is_never_shadowed_by_an_older_build(built, tmp_path, monkeypatch):
    sources = tmp_path / "deid"
    shutil.copytree(native.HERE, sources, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(native, "HERE", sources)
    assert native.key() == built.name
    with open(sources / "numbers.py", "a") as module:
        module.write("\n# an edit\n")
    assert native.key() != built.name
    assert not (native.BUILDS / native.key()).exists()
