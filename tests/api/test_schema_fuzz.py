"""Schemathesis over /openapi.json: no request the document allows (or nearly allows) is a 5xx.

Issue 15.11. Per operation: schemathesis' coverage cases (boundaries such as 2**63, nulls for
required fields, wrong types, missing parameters) and a bounded number of random valid and
invalid examples. The examples are derandomised, so what passed once passes again.
"""
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis.generation.modes import GenerationMode

import portal.api  # noqa: F401 - registers every operation in REGISTRY
from portal.api.spec import REGISTRY, openapi_path
from portal.auth import services as auth_services
from portal.auth.models import User
from portal.extensions import db

EXAMPLES = 12
# resumable chunks are raw bytes under tus' media type
schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
# 507 Insufficient Storage is an answer, not a failure: an upload this disk has no room for
ANSWERS_5XX = {507}
OPERATIONS = sorted({(op.method.upper(), openapi_path(op.rule)[0]) for op in REGISTRY}, key=lambda o: (o[1], o[0]))


@pytest.mark.slow
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_request_gets_a_server_error(app, users, token, method, path):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app, headers=token["admin"])
    operation = schema[path][method]
    failures = []

    def call(case):
        # a fresh admin token per case: the fuzzer may revoke any token it can name, ours included
        with app.app_context():
            plain = auth_services.create_token(db.session.get(User, users["admin"]))[1]
        response = case.call(headers={"Authorization": f"Bearer {plain}"})
        if response.status_code >= 500 and response.status_code not in ANSWERS_5XX:
            failures.append(f"{response.status_code}: {case.as_curl_command()}\n{response.text[:600]}")

    for case in schema.iter_coverage_cases(operation, generation_modes=MODES,
                                           generation_config=schema.config.generation_for(operation=operation)):
        call(case)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(*(operation.as_strategy(mode) for mode in MODES)))
    def fuzz(case):
        call(case)

    fuzz()
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:5])
