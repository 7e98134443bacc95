"""Deployment artifacts generated from a composition: Dockerfile, compose file, Kubernetes.

:func:`~rainmaker.deploy.plan.plan_deployment` reads what a profile composes (which
patterns, their settings, secrets, drain bounds, the ``${VAR}`` it references) into a
:class:`~rainmaker.deploy.plan.DeploymentPlan`; one module per target turns the plan
into data (dicts) and text. Nothing depends on the caller's environment, so the same
composition always renders the same bytes.
"""

from rainmaker.deploy.plan import DeploymentPlan, plan_deployment

__all__ = ["DeploymentPlan", "plan_deployment"]
