"""Settings of the ``dev-dashboard`` pattern: where it serves, and to whom."""

from __future__ import annotations

from pydantic import Field, model_validator

from rainmaker import Settings

PRODUCTION = "production"


class DashboardSettings(Settings):
    """Which profiles serve the dashboard, who may read it and how it refreshes."""

    profiles: list[str] = Field(
        default_factory=list,
        description="Profiles in which the dashboard is served; empty means every profile "
        "except 'production' (which also needs enabled_in_production).",
        examples=[["development", "staging"]],
    )
    enabled_in_production: bool = Field(
        False,
        description="Serve the dashboard in the 'production' profile too. It shows the "
        "topology, settings (secrets redacted) and failures of the app: keep it off unless "
        "it is reachable only by operators.",
        examples=[True],
    )
    loopback_only: bool = Field(
        True,
        description="Answer only clients on 127.0.0.1 or ::1 (others get 403), so a dev "
        "server bound to 0.0.0.0 does not show its internals to the network.",
        examples=[False],
    )
    refresh_interval: float = Field(
        5.0,
        ge=0,
        le=3600,
        description="Seconds between the page's health refreshes; 0 turns them off.",
        examples=[2.0],
    )
    status_timeout: float = Field(
        5.0,
        gt=0,
        le=60,
        description="Seconds the page waits for each contributed panel (migrations, jobs…) "
        "before it shows the panel as unknown.",
        examples=[10.0],
    )
    panel_rows: int = Field(
        20,
        ge=0,
        le=500,
        description="Most rows each contributed panel lists (recent failed jobs, queues, "
        "migrations).",
        examples=[50],
    )
    failed_jobs_limit: int | None = Field(
        None,
        ge=0,
        le=500,
        description="Deprecated: use panel_rows (still honoured when set).",
    )

    @property
    def rows_per_panel(self) -> int:
        """``panel_rows``, or the deprecated ``failed_jobs_limit`` when that is set."""
        return self.failed_jobs_limit if self.failed_jobs_limit is not None else self.panel_rows

    @model_validator(mode="after")
    def _production_needs_opt_in(self) -> DashboardSettings:
        if PRODUCTION in self.profiles and not self.enabled_in_production:
            raise ValueError(
                "profiles lists 'production' but enabled_in_production is false; set "
                "enabled_in_production = true to serve the dashboard in production"
            )
        return self

    def serves_in(self, profile: str) -> bool:
        """Whether the dashboard is served when the app runs with ``profile``."""
        if profile == PRODUCTION:
            return self.enabled_in_production and (not self.profiles or profile in self.profiles)
        return not self.profiles or profile in self.profiles
