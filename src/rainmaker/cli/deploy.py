"""``rainmaker deploy render``: deployment artifacts generated from the composition.

``--target dockerfile|compose|kubernetes`` picks the artifact; without ``--out`` it is
printed, with ``--out DIR`` it is written to ``DIR/Dockerfile``, ``DIR/compose.yaml`` or
``DIR/kubernetes.yaml``. The output depends only on the composition and the profile
(default ``production``), never on the shell's environment.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from rainmaker.cli.options import AppOption

deploy_app = typer.Typer(help="Deployment artifacts generated from the composition.")


class Target(StrEnum):
    dockerfile = "dockerfile"
    compose = "compose"
    kubernetes = "kubernetes"


FILE_NAMES = {
    Target.dockerfile: "Dockerfile",
    Target.compose: "compose.yaml",
    Target.kubernetes: "kubernetes.yaml",
}


def register(app: typer.Typer) -> None:
    """Add the ``deploy`` command group to the ``rainmaker`` app."""
    app.add_typer(deploy_app, name="deploy")


@deploy_app.command("render")
def render(
    target: Annotated[Target, typer.Option("--target", help="What to generate.")],
    app_path: AppOption = Path("."),
    profile: Annotated[
        str, typer.Option("--profile", "-p", help="Profile the deployment runs.")
    ] = "production",
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the file into this folder.")
    ] = None,
    image: Annotated[
        str | None, typer.Option("--image", help="Image name (default: <app>:latest).")
    ] = None,
) -> None:
    """Render a Dockerfile, a compose file or Kubernetes manifests for the app."""
    # Imported here: the renderers load PyYAML, which every other command (``run``'s
    # cold start among them) would otherwise pay for at start-up.
    from rainmaker.deploy import compose, dockerfile, kubernetes
    from rainmaker.deploy.plan import plan_deployment

    plan = plan_deployment(app_path, profile=profile)
    if target is Target.dockerfile:
        text = dockerfile.render(plan)
    elif target is Target.compose:
        text = compose.render(plan, image=image)
    else:
        text = kubernetes.render(plan, image=image)
    if out is None:
        sys.stdout.write(text)
        return
    out.mkdir(parents=True, exist_ok=True)
    path = out / FILE_NAMES[target]
    path.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {path}")
