"""``api-keys`` passes the ApiKeys contract on SQLite, PostgreSQL and MySQL/MariaDB."""

from __future__ import annotations

import pytest

from rainmaker.capabilities.api_keys import ApiKeys, ApiKeyStore
from rainmaker.patterns.api_keys.pattern import api_keys
from rainmaker.testing.contracts.api_keys import ApiKeyStoreContract
from tests.patterns.api_keys.conftest import MakeApp


class TestSqlApiKeyStore(ApiKeyStoreContract):
    @pytest.fixture
    async def api_key_store(self, make_app: MakeApp) -> ApiKeyStore:
        running = await make_app()
        return running.app.services.require(ApiKeys)


def test_examples_validate() -> None:
    for example in api_keys.examples:
        api_keys.settings.model_validate(example)
