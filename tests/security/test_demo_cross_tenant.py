"""Reading across organizations through every route of the demo SaaS finds nothing.

Two tenants on real ``rainmaker run``/``rainmaker worker`` processes of ``examples/saas``
(embedded defaults): Alice's organization holds a project with a file, a paid
subscription, an organization API key, a member and a pending invitation (and Alice a
personal key); Bob owns another organization. Bob then aims every route
the app serves (``/openapi.json`` is the list, so a new route fails this test until it is
classified here) at Alice's data — by her organization's id and slug in the path and in
``X-Organization``, by her project, invitation, member and key ids under his own
organization — with his access token and with his API key. Every answer must be a
refusal that says nothing of Alice's tenant (404 for her organization, never 403, so ids
don't leak), and afterwards Alice's data is exactly as it was.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rainmaker.patterns.email.outbox import read_outbox
from tests.e2e.conftest import saas_processes
from tests.proof.flows import PASSWORD, eventually

EMAIL_WAIT = 90.0

# Routes that hold no tenant's data, and why; everything else the app serves is attacked.
NOT_TENANT_DATA: dict[tuple[str, str], str] = {
    ("POST", "/auth/register"): "creates an account; answers only about the new one",
    ("POST", "/auth/login"): "credentials of one account",
    ("POST", "/auth/refresh"): "a refresh token of one account",
    ("POST", "/auth/verify"): "a single-use emailed code",
    ("POST", "/auth/verify/resend"): "uniform answer whether or not the address exists",
    ("POST", "/auth/password-reset"): "uniform answer whether or not the address exists",
    ("POST", "/auth/password-reset/confirm"): "a single-use emailed token",
    ("POST", "/auth/logout"): "the caller's own session",
    ("POST", "/auth/password"): "the caller's own password",
    ("POST", "/payments/webhook"): "signed by the provider; refused unsigned (checked below)",
    ("GET", "/payments/local/checkout/{checkout_id}"): "capability URL: its id is the secret",
    ("POST", "/payments/local/checkout/{checkout_id}/{outcome}"): "capability URL, as above",
    ("GET", "/health"): "process health, served to this machine only; no tenant rows",
    ("GET", "/health/live"): "a bare status",
    ("GET", "/health/ready"): "a bare status",
    ("POST", "/orgs"): "creates an organization of the caller's",
}


@dataclass
class Tenant:
    """One signed-up user, their personal organization and how to call as them."""

    email: str
    auth: dict[str, str]
    org_id: str
    org_slug: str
    user_id: str


def sign_up(client: httpx.Client, outbox: Path) -> Tenant:
    email = f"tenant-{secrets.token_hex(5)}@example.com"
    answer = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 201, answer.text

    def code() -> str | None:
        for message in read_outbox(outbox):
            if email in message.recipients and "Confirm" in str(message.message["Subject"]):
                body = message.message.get_body(preferencelist=("plain",))
                found = re.search(r"confirmation code:\s+(\S+)", body.get_content() if body else "")
                if found:
                    return found.group(1)
        return None

    # The email goes out through a job: a busy machine may take a while (a bound, not a
    # measured duration).
    token = eventually(code, f"the verification email to {email}", timeout=EMAIL_WAIT)
    assert client.post("/auth/verify", json={"token": token}).status_code == 200
    answer = client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    auth = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    me = client.get("/auth/me", headers=auth).json()
    [org] = client.get("/orgs", headers=auth).json()["organizations"]
    return Tenant(email, auth, org["id"], org["slug"], me["id"])


@dataclass(frozen=True)
class Attack:
    """One request Bob sends at Alice's tenant; the route it exercises; what must answer."""

    route: tuple[str, str]
    method: str
    path: str
    statuses: tuple[int, ...] = (404,)
    headers: dict[str, str] | None = None
    json: Any = None
    files: Any = None


def attacks(alice: Tenant, bob: Tenant, facts: dict[str, str]) -> list[Attack]:
    """Every request of the attack, grouped by the route it goes through."""
    a_id, a_slug, b_id = alice.org_id, alice.org_slug, bob.org_id
    project, invitation, key_id = facts["project"], facts["invitation"], facts["key_id"]
    in_a = {"X-Organization": a_id}
    in_a_slug = {"X-Organization": a_slug}
    in_b = {"X-Organization": b_id}
    upload = {"file": ("x.txt", b"overwritten", "text/plain")}
    found: list[Attack] = []
    for org in (a_id, a_slug):
        found += [
            Attack(("GET", "/orgs/{org}"), "GET", f"/orgs/{org}"),
            Attack(("PATCH", "/orgs/{org}"), "PATCH", f"/orgs/{org}", json={"name": "pwned"}),
            Attack(("DELETE", "/orgs/{org}"), "DELETE", f"/orgs/{org}"),
            Attack(("GET", "/orgs/{org}/members"), "GET", f"/orgs/{org}/members"),
            Attack(
                ("POST", "/orgs/{org}/transfer"),
                "POST",
                f"/orgs/{org}/transfer",
                json={"user_id": bob.user_id},
            ),
            Attack(
                ("PATCH", "/orgs/{org}/members/{user}"),
                "PATCH",
                f"/orgs/{org}/members/{alice.user_id}",
                json={"role": "member"},
            ),
            Attack(
                ("DELETE", "/orgs/{org}/members/{user}"),
                "DELETE",
                f"/orgs/{org}/members/{alice.user_id}",
            ),
            Attack(("DELETE", "/orgs/{org}/members/{user}"), "DELETE", f"/orgs/{org}/members/me"),
            Attack(("GET", "/orgs/{org}/invitations"), "GET", f"/orgs/{org}/invitations"),
            Attack(
                ("POST", "/orgs/{org}/invitations"),
                "POST",
                f"/orgs/{org}/invitations",
                json={"email": bob.email},
            ),
            Attack(
                ("DELETE", "/orgs/{org}/invitations/{invitation_id}"),
                "DELETE",
                f"/orgs/{org}/invitations/{invitation}",
            ),
            Attack(("GET", "/orgs/{org}/api-keys"), "GET", f"/orgs/{org}/api-keys"),
            Attack(
                ("POST", "/orgs/{org}/api-keys"),
                "POST",
                f"/orgs/{org}/api-keys",
                json={"name": "bob-in-a", "scopes": []},
            ),
            Attack(
                ("DELETE", "/orgs/{org}/api-keys/{key_id}"),
                "DELETE",
                f"/orgs/{org}/api-keys/{facts['org_key_id']}",
            ),
            Attack(
                ("POST", "/orgs/{org}/api-keys/{key_id}/rotate"),
                "POST",
                f"/orgs/{org}/api-keys/{facts['org_key_id']}/rotate",
            ),
        ]
        for route in ("subscription", "invoices"):
            found.append(
                Attack(
                    ("GET", f"/payments/orgs/{{org}}/{route}"),
                    "GET",
                    f"/payments/orgs/{org}/{route}",
                )
            )
        for route in ("subscription/cancel", "subscription/resume"):
            found.append(
                Attack(
                    ("POST", f"/payments/orgs/{{org}}/{route}"),
                    "POST",
                    f"/payments/orgs/{org}/{route}",
                )
            )
        found.append(
            Attack(
                ("POST", "/payments/orgs/{org}/checkout"),
                "POST",
                f"/payments/orgs/{org}/checkout",
                json={"plan": "pro", "success_url": "/", "cancel_url": "/"},
            )
        )
    # Alice's ids under Bob's own organization, where Bob is the owner.
    found += [
        Attack(
            ("PATCH", "/orgs/{org}/members/{user}"),
            "PATCH",
            f"/orgs/{b_id}/members/{alice.user_id}",
            json={"role": "admin"},
        ),
        Attack(
            ("DELETE", "/orgs/{org}/members/{user}"),
            "DELETE",
            f"/orgs/{b_id}/members/{alice.user_id}",
        ),
        Attack(
            ("POST", "/orgs/{org}/transfer"),
            "POST",
            f"/orgs/{b_id}/transfer",
            json={"user_id": alice.user_id},
        ),
        Attack(
            ("DELETE", "/orgs/{org}/invitations/{invitation_id}"),
            "DELETE",
            f"/orgs/{b_id}/invitations/{invitation}",
        ),
        Attack(
            ("DELETE", "/orgs/{org}/api-keys/{key_id}"),
            "DELETE",
            f"/orgs/{b_id}/api-keys/{facts['org_key_id']}",
        ),
        Attack(
            ("POST", "/orgs/{org}/api-keys/{key_id}/rotate"),
            "POST",
            f"/orgs/{b_id}/api-keys/{facts['org_key_id']}/rotate",
        ),
        # Alice's invitation token (as if it leaked) is bound to the invited address.
        Attack(
            ("POST", "/invitations/{token}/accept"),
            "POST",
            f"/invitations/{facts['token']}/accept",
            statuses=(403,),
        ),
        Attack(("POST", "/invitations/{token}/accept"), "POST", "/invitations/guess/accept"),
    ]
    for named in (in_a, in_a_slug):
        found += [
            Attack(("GET", "/projects/account"), "GET", "/projects/account", headers=named),
            Attack(("GET", "/projects"), "GET", "/projects", headers=named),
            Attack(("POST", "/projects"), "POST", "/projects", headers=named, json={"name": "x"}),
            Attack(("GET", "/projects/{project_id}"), "GET", f"/projects/{project}", headers=named),
            Attack(
                ("GET", "/projects/{project_id}/file"),
                "GET",
                f"/projects/{project}/file",
                headers=named,
            ),
            Attack(
                ("PUT", "/projects/{project_id}/file"),
                "PUT",
                f"/projects/{project}/file",
                headers=named,
                files=upload,
            ),
        ]
    for own in ({}, in_b):  # Alice's project id in Bob's own organization
        found += [
            Attack(("GET", "/projects/{project_id}"), "GET", f"/projects/{project}", headers=own),
            Attack(
                ("GET", "/projects/{project_id}/file"),
                "GET",
                f"/projects/{project}/file",
                headers=own,
            ),
            Attack(
                ("PUT", "/projects/{project_id}/file"),
                "PUT",
                f"/projects/{project}/file",
                headers=own,
                files=upload,
            ),
        ]
    found += [
        # Bob's own lists: they answer, with none of Alice's rows (checked by the markers).
        Attack(("GET", "/projects"), "GET", "/projects", statuses=(200,)),
        Attack(("GET", "/projects/account"), "GET", "/projects/account", statuses=(200,)),
        Attack(("GET", "/orgs"), "GET", "/orgs", statuses=(200,)),
        Attack(("GET", "/auth/me"), "GET", "/auth/me", statuses=(200,)),
        Attack(("GET", "/api-keys"), "GET", "/api-keys", statuses=(200,)),
        Attack(("DELETE", "/api-keys/{key_id}"), "DELETE", f"/api-keys/{key_id}"),
        Attack(("POST", "/api-keys/{key_id}/rotate"), "POST", f"/api-keys/{key_id}/rotate"),
        Attack(
            ("POST", "/api-keys"),
            "POST",
            "/api-keys",
            statuses=(201,),
            json={"name": "bob's", "scopes": []},
        ),
        Attack(("GET", "/payments/subscription"), "GET", "/payments/subscription", (200, 404)),
        Attack(("GET", "/payments/invoices"), "GET", "/payments/invoices", (200,)),
        Attack(
            ("POST", "/payments/subscription/cancel"),
            "POST",
            "/payments/subscription/cancel",
            (404, 409),
        ),
        Attack(
            ("POST", "/payments/subscription/resume"),
            "POST",
            "/payments/subscription/resume",
            (404, 409),
        ),
        Attack(
            ("POST", "/payments/checkout"),
            "POST",
            "/payments/checkout",
            (201, 422),
            json={"plan": "pro", "success_url": "/", "cancel_url": "/"},
        ),
        # Alice's stored object, guessed by its key's shape, without a signature.
        Attack(
            ("GET", "/files/{key}"),
            "GET",
            f"/files/projects/{a_id}/{project}/{facts['object']}",
            (401, 403, 404),
        ),
        Attack(
            ("PUT", "/files/{key}"),
            "PUT",
            f"/files/projects/{a_id}/{project}/{facts['object']}",
            (401, 403, 404),
        ),
    ]
    return found


def served_routes(client: httpx.Client) -> set[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    routes = set()
    for path, operations in schema["paths"].items():
        for method in operations:
            if method in {"get", "post", "put", "patch", "delete"}:
                routes.add((method.upper(), re.sub(r"\{key:path\}", "{key}", path)))
    return routes


def alice_state(client: httpx.Client, alice: Tenant) -> dict[str, Any]:
    """Everything Alice can read of her tenant (compared before and after the attack)."""
    in_a = {**alice.auth, "X-Organization": alice.org_id}
    project = client.get("/projects", headers=in_a).json()["projects"]
    return {
        "org": client.get(f"/orgs/{alice.org_id}", headers=alice.auth).json(),
        "members": client.get(f"/orgs/{alice.org_id}/members", headers=alice.auth).json(),
        "invitations": client.get(f"/orgs/{alice.org_id}/invitations", headers=alice.auth).json(),
        "projects": project,
        "subscription": client.get(
            f"/payments/orgs/{alice.org_id}/subscription", headers=alice.auth
        ).json(),
        "account": client.get("/projects/account", headers=alice.auth).json(),
        "file": client.get(f"/projects/{project[0]['id']}/file", headers=in_a).content,
        "keys": [
            {k: v for k, v in key.items() if k not in {"last_used_at", "last_used_ip"}}
            for key in client.get("/api-keys", headers=alice.auth).json()["api_keys"]
        ],
        "org_keys": client.get(f"/orgs/{alice.org_id}/api-keys", headers=alice.auth).json(),
    }


def test_no_route_reads_across_organizations(tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    env = {
        "SAAS_DB_PATH": str(tmp_path / "saas.db"),
        "SAAS_OUTBOX": str(outbox),
        "SAAS_STORAGE_ROOT": str(tmp_path / "storage"),
    }
    with (
        saas_processes("development", env, tmp_path / "logs") as processes,
        httpx.Client(base_url=processes.base_url, timeout=20) as client,
    ):
        alice, bob = sign_up(client, outbox), sign_up(client, outbox)
        mate = sign_up(client, outbox)
        secret_name = f"alpha-{secrets.token_hex(6)}"
        secret_bytes = f"alice-file-{secrets.token_hex(8)}".encode()
        in_a = {**alice.auth, "X-Organization": alice.org_id}
        project = client.post("/projects", headers=in_a, json={"name": secret_name}).json()["id"]
        answer = client.put(
            f"/projects/{project}/file",
            headers=in_a,
            files={"file": ("secret.bin", secret_bytes, "application/octet-stream")},
        )
        assert answer.status_code == 200, answer.text
        # A member (the teammate, who accepts) and a pending invitation (to an outsider).
        invite = client.post(
            f"/orgs/{alice.org_id}/invitations", headers=alice.auth, json={"email": mate.email}
        )
        assert invite.status_code == 201, invite.text

        def token_for(address: str) -> Callable[[], str | None]:
            def find() -> str | None:
                for message in read_outbox(outbox):
                    if address in message.recipients and "invited" in str(
                        message.message["Subject"]
                    ):
                        body = message.message.get_body(preferencelist=("plain",))
                        text = body.get_content() if body is not None else ""
                        match = re.search(r"/invitations/(\S+)/accept", text)
                        if match:
                            return match.group(1)
                return None

            return find

        mate_token = eventually(
            token_for(mate.email), "the teammate's invitation", timeout=EMAIL_WAIT
        )
        accepted = client.post(f"/invitations/{mate_token}/accept", headers=mate.auth)
        assert accepted.status_code in (200, 201), accepted.text
        outsider = f"outsider-{secrets.token_hex(5)}@example.com"
        pending = client.post(
            f"/orgs/{alice.org_id}/invitations", headers=alice.auth, json={"email": outsider}
        )
        assert pending.status_code == 201, pending.text
        token = eventually(token_for(outsider), "the outsider's invitation", timeout=EMAIL_WAIT)
        key = client.post("/api-keys", headers=alice.auth, json={"name": "alice-ci"}).json()
        org_key = client.post(
            f"/orgs/{alice.org_id}/api-keys", headers=alice.auth, json={"name": "a-ci"}
        ).json()
        # Alice's organization pays for the pro plan (two seats: Alice and the teammate).
        back = f"{processes.base_url}/projects/account"
        checkout = client.post(
            f"/payments/orgs/{alice.org_id}/checkout",
            headers=alice.auth,
            json={"plan": "pro", "success_url": back, "cancel_url": back},
        )
        assert checkout.status_code == 201, checkout.text
        paid = client.post(f"{checkout.json()['url']}/complete")
        assert paid.status_code == 303, paid.text

        def subscribed() -> dict[str, Any] | None:
            found = client.get(f"/payments/orgs/{alice.org_id}/subscription", headers=alice.auth)
            return found.json() if found.status_code == 200 else None

        subscription = eventually(subscribed, "Alice's organization's subscription")
        stored = [p for p in (tmp_path / "storage").rglob("*") if p.is_file() and project in str(p)]
        assert stored, "the project's file is not in the storage root"
        object_name = stored[0].name
        facts = {
            "project": project,
            "invitation": pending.json()["id"],
            "token": token,
            "key_id": key["id"],
            "org_key_id": org_key["id"],
            "object": object_name,
        }
        # Bob's API key (no scopes) is his second way in.
        bob_key = client.post("/api-keys", headers=bob.auth, json={"name": "bob-ci"}).json()["key"]
        # What would show that Alice's tenant leaked.
        markers = [
            alice.email,
            mate.email,
            outsider,
            alice.user_id,
            mate.user_id,
            secret_name,
            secret_bytes.decode(),
            key["id"],
            key["prefix"],
            key["key"],
            org_key["id"],
            org_key["prefix"],
            org_key["key"],
            token,
            f"{alice.email}'s projects",
            subscription["id"],
            checkout.json()["id"],
        ]
        before = alice_state(client, alice)

        planned = attacks(alice, bob, facts)
        uncovered = served_routes(client) - {a.route for a in planned} - set(NOT_TENANT_DATA)
        assert not uncovered, f"routes not attacked nor classified: {sorted(uncovered)}"

        leaks: list[str] = []
        for attack in planned:
            for credential in ("token", "key"):
                headers = dict(bob.auth) if credential == "token" else {"X-API-Key": bob_key}
                headers.update(attack.headers or {})
                answer = client.request(
                    attack.method,
                    attack.path,
                    headers=headers,
                    json=attack.json,
                    files=attack.files,
                )
                where = f"{credential}: {attack.method} {attack.path} -> {answer.status_code}"
                if credential == "token" and answer.status_code not in attack.statuses:
                    leaks.append(f"{where}, expected {attack.statuses}: {answer.text[:200]}")
                elif answer.status_code >= 500 or (
                    credential == "key"
                    and 200 <= answer.status_code < 300
                    and attack.statuses == (404,)
                ):
                    leaks.append(f"{where}: {answer.text[:200]}")
                if answer.status_code == 404 and answer.headers.get("content-type", "").startswith(
                    "application/json"
                ):
                    leaks.append(f"{where}: a 404 that is not problem+json")
                body = answer.content.decode(errors="replace")
                # An id the request itself sent may be echoed back ("no member …"): only
                # what Bob did not already know is a leak.
                sent = attack.path + json.dumps(attack.json)
                shown = [marker for marker in markers if marker in body and marker not in sent]
                if shown:
                    leaks.append(f"{where} shows {shown}")
        # An unsigned webhook is refused, whoever sends it.
        webhook = client.post("/payments/webhook", content=b"{}", headers=bob.auth)
        assert webhook.status_code == 400, webhook.text

        assert not leaks, "\n".join(leaks)
        assert alice_state(client, alice) == before
        assert client.get("/projects", headers={"X-API-Key": key["key"]}).status_code == 200
        assert client.get("/projects", headers={"X-API-Key": org_key["key"]}).status_code == 200
        bob_orgs = client.get("/orgs", headers=bob.auth).json()["organizations"]
        assert [o["id"] for o in bob_orgs] == [bob.org_id]
