"""1,000 requests generated from the server's own OpenAPI schema (schemathesis + hypothesis): never a 5xx."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from runtime_fixtures import Runtime, shot_request, write_first_frame

EXAMPLES = 1000


def test_generated_requests_never_crash_the_server(tmp_path: Path):
    runtime = Runtime(tmp_path / "state", tmp_path)
    try:
        first = write_first_frame(tmp_path / "inputs")
        _, seeded = runtime.request("POST", "/v1/takes", shot_request(first, frames=2, shot="before the storm"))
        runtime.wait_for(seeded["id"])
        _, spec = runtime.request("GET", "/v1/openapi.json")
        schema = schemathesis.openapi.from_dict(spec)
        cases = st.one_of(schema.as_strategy(GenerationMode.NEGATIVE), schema.as_strategy(GenerationMode.POSITIVE))
        statuses: Counter[int] = Counter()
        auth = {"Authorization": f"Bearer {runtime.token}"}

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=cases)
        def fuzz(case: schemathesis.Case) -> None:
            if case.path == "/v1/events" and isinstance(case.query, dict) \
                    and isinstance(case.query.get("wait"), (int, float)):
                case.query["wait"] = min(case.query["wait"], 0.05)  # a valid long-poll would only make us wait
            response = case.call(base_url=runtime.url, headers=auth, timeout=30)
            statuses[response.status_code] += 1
            assert response.status_code < 500, (case.method, case.path, case.query, case.body, response.text)

        fuzz()
        assert sum(statuses.values()) >= EXAMPLES * 0.9
        assert any(400 <= status < 500 for status in statuses), statuses
        # Still up, and still generating.
        assert runtime.request("GET", "/v1/health", token=None)[0] == 200
        _, after = runtime.request("POST", "/v1/takes", shot_request(first, frames=2, shot="after the storm"))
        assert runtime.wait_for(after["id"])["status"] == "done"
        assert runtime.request("GET", f"/v1/takes/{seeded['id']}")[1]["status"] == "done"
    finally:
        runtime.stop()
