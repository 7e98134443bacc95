"""Create a project of the demo SaaS from CI, authenticated by an API key.

Standard library only, so a CI job runs it with any ``python3``::

    SAAS_URL=https://saas.example SAAS_API_KEY=rk_live_… \\
        python3 examples/saas/scripts/ci_create_project.py "nightly build 2026-12-01"

- ``SAAS_URL`` — where the app answers (default ``http://127.0.0.1:8000``);
- ``SAAS_API_KEY`` — best an organization's key, made by one of its admins with ``POST
  /orgs/{org}/api-keys`` and the scope ``projects:write``: it acts in that organization
  and keeps working when its creator leaves. A personal key (``POST /api-keys``) acts as
  the user who made it, never with more than that user may do;
- ``SAAS_ORG`` — the organization (id or slug, sent as ``X-Organization``); unset: the
  organization key's own, or a personal key's personal organization.

Prints the created project as JSON and exits 0; a refusal (plan limit, unknown
organization, revoked key…) prints the problem's code and detail to stderr and exits 1;
a missing key or name exits 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT = 30.0


def create_project(base_url: str, api_key: str, name: str, org: str | None) -> dict[str, object]:
    """``POST /projects`` with the key; the created project (``HTTPError`` on a refusal)."""
    headers = {"X-API-Key": api_key, "Content-Type": "application/json"}
    if org:
        headers["X-Organization"] = org
    request = urllib.request.Request(
        f"{base_url.rstrip('/')}/projects",
        data=json.dumps({"name": name}).encode(),
        headers=headers,
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
        created: dict[str, object] = json.load(answer)
        return created


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", help="the new project's name")
    args = parser.parse_args(argv)
    api_key = os.environ.get("SAAS_API_KEY", "").strip()
    if not api_key:
        print("set SAAS_API_KEY to a key made with POST /api-keys", file=sys.stderr)
        return 2
    base_url = os.environ.get("SAAS_URL") or DEFAULT_URL
    try:
        project = create_project(base_url, api_key, args.name, os.environ.get("SAAS_ORG"))
    except urllib.error.HTTPError as refused:
        try:
            problem = json.load(refused)
        except ValueError:
            problem = {}
        code = problem.get("code", refused.code)
        print(f"refused ({code}): {problem.get('detail', refused.reason)}", file=sys.stderr)
        return 1
    except (urllib.error.URLError, OSError) as error:
        print(f"could not reach {base_url}: {error}", file=sys.stderr)
        return 1
    print(json.dumps(project))
    return 0


if __name__ == "__main__":
    sys.exit(main())
