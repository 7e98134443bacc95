"""Both storage patterns pass the ``Storage`` contract suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from rainmaker.testing.contracts.storage import StorageContract, StorageUnderTest
from tests.patterns.storage.conftest import BACKENDS, local_settings, s3_settings


class TestStorageContract(StorageContract):
    @pytest.fixture(params=BACKENDS)
    def storage_under_test(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> StorageUnderTest:
        if request.param == "local":
            return StorageUnderTest("storage-local", local_settings(), tmp_path)
        server = request.getfixturevalue("s3_server")
        return StorageUnderTest("storage-s3", s3_settings(server), tmp_path)
