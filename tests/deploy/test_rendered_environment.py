"""The environment a rendered deployment gives its processes means what the file says.

Found by starting the demo from its rendered manifests (tests/proof/test_7_first_deploy.py):
a setting written ``port = "${SMTP_PORT:-587}"`` was rendered both as ``SMTP_PORT=587`` and
as ``RAINMAKER__MAIL__PORT=587``, and the second wins, so an operator's ``SMTP_PORT`` did
nothing; a table keyed ``"projects:write"`` became a ConfigMap key Kubernetes refuses; the
development profile's variables and a password's default landed in the ConfigMap.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rainmaker.deploy.plan import DeploymentPlan, plan_deployment
from rainmaker.kernel.loading import load

APP = """
[app]
name = "envy"

[patterns.web]
use = "framework-fastapi"

[patterns.db]
use = "database-sqlite"
path = "${DEV_DB_PATH:-var/dev.db}"

[patterns.keys]
use = "api-keys"
scopes = { "projects:write" = "create projects" }

[patterns.auth]
use = "auth-jwt"
secret = "${JWT_SECRET}"

[patterns.mail]
use = "email-console"
default_sender = "app@envy.example"

[profiles.production.patterns.db]
use = "database-postgres"
url = "${DATABASE_URL}"

[profiles.production.patterns.mail]
use = "email-smtp"
default_sender = "app@envy.example"
host = "smtp.envy.example"
port = "${SMTP_PORT:-587}"
password = "${SMTP_PASSWORD:-}"
"""


@pytest.fixture
def app_folder(tmp_path: Path) -> Path:
    (tmp_path / "rainmaker.toml").write_text(APP)
    return tmp_path


@pytest.fixture
def plan(app_folder: Path) -> DeploymentPlan:
    return plan_deployment(app_folder, profile="production")


def test_a_variable_with_a_default_is_the_one_place_to_change_it(
    plan: DeploymentPlan, app_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {var.name: var.value for var in plan.config}
    assert config["SMTP_PORT"] == "587"
    assert "RAINMAKER__MAIL__PORT" not in config
    # An operator changes the ConfigMap's SMTP_PORT: the app reads that value.
    for name, value in {**config, "SMTP_PORT": "2525", "DATABASE_URL": "postgresql://db/x",
                        "JWT_SECRET": "s" * 40}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    application = load(app_folder, profile="production")
    assert application.instances["mail"].settings.port == 2525  # type: ignore[attr-defined]


def test_a_table_with_keys_no_variable_can_name_is_set_whole(
    plan: DeploymentPlan, app_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = {var.name: var.value for var in plan.config}
    assert all(":" not in name for name in config)
    assert json.loads(config["RAINMAKER__KEYS__SCOPES"]) == {"projects:write": "create projects"}
    monkeypatch.setenv("RAINMAKER__KEYS__SCOPES", '{"projects:write": "from the environment"}')
    monkeypatch.setenv("JWT_SECRET", "s" * 40)
    application = load(app_folder)
    scopes = application.instances["keys"].settings.scopes  # type: ignore[attr-defined]
    assert scopes == {"projects:write": "from the environment"}


def test_only_the_profiles_own_variables_are_rendered(plan: DeploymentPlan) -> None:
    names = {var.name for var in [*plan.config, *plan.secrets]}
    assert "DEV_DB_PATH" not in names  # read by the development table production replaces
    assert "DATABASE_URL" in names


def test_a_variable_feeding_a_secret_goes_to_the_secret_even_with_a_default(
    plan: DeploymentPlan,
) -> None:
    secrets = {var.name: var.value for var in plan.secrets}
    assert secrets["SMTP_PASSWORD"] == ""
    assert "SMTP_PASSWORD" not in {var.name for var in plan.config}
