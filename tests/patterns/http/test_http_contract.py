"""``framework-fastapi`` passes the ``Http`` contract suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from rainmaker.testing.contracts.http import HttpContract, HttpUnderTest

BODY_LIMIT = 4096  # small, so the 413 tests send little


class TestHttpContract(HttpContract):
    @pytest.fixture
    def http_under_test(self, tmp_path: Path) -> HttpUnderTest:
        return HttpUnderTest(
            use="framework-fastapi",
            settings={"access_log": False, "max_body_size": BODY_LIMIT},
            body_limit=BODY_LIMIT,
            root=tmp_path,
        )
