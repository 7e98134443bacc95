"""The ``Organizations`` contract: behaviour every
:class:`~rainmaker.capabilities.organizations.OrganizationDirectory` provider must show,
driven through the HTTP routes of a real composed app and the provider's interface.

Subclass :class:`OrganizationsContract` and define one fixture, ``orgs_backend``, returning
a started app wrapped as an :class:`OrgsBackend`::

    class TestMyOrganizations(OrganizationsContract):
        @pytest.fixture
        async def orgs_backend(self, tmp_path) -> AsyncIterator[OrgsBackend]:
            ...  # compose database + auth-jwt + mailer + http + your pattern, start it
            yield MyBackend(...)

The app composes an ``Auth`` provider with self-registration at ``POST /auth/register``
and ``POST /auth/login`` (as ``auth-jwt`` does), the organizations routes at the root
(``/orgs``, ``/invitations/{token}/accept``) and the default roles. The backend reads the
token of the newest invitation emailed to an address, and makes an invitation's time run
out the way its storage allows. Every test uses fresh users and slugs, so one app may
serve them all. Nothing asserts a duration.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any, Protocol

import httpx
import pytest

from rainmaker.capabilities.organizations import (
    ADMIN,
    INVITATION_ACCEPTED,
    MEMBER,
    MEMBER_ADDED,
    MEMBER_REMOVED,
    ORG_CREATED,
    OWNER,
    OrganizationDirectory,
    OrgEvent,
)

__all__ = ["OrgUser", "OrganizationsContract", "OrgsBackend", "assert_problem"]

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class OrgUser:
    """A registered, logged-in user: id, email and the ``Authorization`` header."""

    id: str
    email: str
    headers: Mapping[str, str]


class OrgsBackend(Protocol):
    """One started app with an organizations pattern, as the contract drives it."""

    client: httpx.AsyncClient
    directory: OrganizationDirectory

    def invitation_token(self, email: str) -> str:
        """The token in the newest invitation email sent to ``email``."""
        ...

    async def expire_invitation(self, invitation_id: str) -> None:
        """Make the invitation's time run out (as if its lifetime had passed)."""
        ...


def assert_problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """``answer`` is problem+json with ``status`` and the stable ``code``; its body."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.headers
    body: dict[str, Any] = answer.json()
    assert body["code"] == code, body
    return body


def new_slug() -> str:
    return f"org-{secrets.token_hex(5)}"


class Recorder:
    """Collects the events delivered to subscribers."""

    def __init__(self, directory: OrganizationDirectory, *names: str) -> None:
        self.events: list[OrgEvent] = []
        self._unsubscribe = [directory.subscribe(name, self._record) for name in names]

    async def _record(self, event: OrgEvent) -> None:
        self.events.append(event)

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    def of(self, org_id: str) -> list[tuple[str, str]]:
        return [(e.name, e.user_id) for e in self.events if e.org_id == org_id]


@pytest.mark.asyncio
class OrganizationsContract:
    """The tests; needs the ``orgs_backend`` fixture (see the module docstring)."""

    # -- helpers -------------------------------------------------------------------------

    async def signup(self, backend: OrgsBackend) -> OrgUser:
        """Register and log in a fresh user through the auth routes."""
        email = f"member-{secrets.token_hex(5)}@example.com"
        client = backend.client
        answer = await client.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 201, answer.text
        user_id = answer.json()["id"]
        answer = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 200, answer.text
        token = answer.json()["access_token"]
        return OrgUser(user_id, email, {"Authorization": f"Bearer {token}"})

    async def create_org(self, backend: OrgsBackend, owner: OrgUser) -> dict[str, Any]:
        answer = await backend.client.post(
            "/orgs", json={"slug": new_slug(), "name": "Acme Labs"}, headers=owner.headers
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body

    async def invite(
        self, backend: OrgsBackend, org: dict[str, Any], by: OrgUser, email: str, role: str
    ) -> httpx.Response:
        return await backend.client.post(
            f"/orgs/{org['id']}/invitations",
            json={"email": email, "role": role},
            headers=by.headers,
        )

    async def join(
        self, backend: OrgsBackend, org: dict[str, Any], owner: OrgUser, role: str = MEMBER
    ) -> OrgUser:
        """A fresh user who accepted an invitation to ``org`` with ``role``."""
        user = await self.signup(backend)
        answer = await self.invite(backend, org, owner, user.email, role)
        assert answer.status_code == 201, answer.text
        token = backend.invitation_token(user.email)
        accepted = await backend.client.post(f"/invitations/{token}/accept", headers=user.headers)
        assert accepted.status_code == 200, accepted.text
        return user

    # -- organizations -------------------------------------------------------------------

    async def test_is_an_organization_directory(self, orgs_backend: OrgsBackend) -> None:
        directory = orgs_backend.directory
        assert isinstance(directory, OrganizationDirectory)
        assert directory.roles[0] == OWNER
        assert {ADMIN, MEMBER} <= set(directory.roles)
        assert directory.role_satisfies(OWNER, ADMIN)
        assert directory.role_satisfies(ADMIN, ADMIN, MEMBER)
        assert not directory.role_satisfies(MEMBER, ADMIN)
        assert not directory.role_satisfies("no-such-role", MEMBER)

    async def test_the_creator_owns_it_and_finds_it_by_id_or_slug(
        self, orgs_backend: OrgsBackend
    ) -> None:
        owner = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        assert org["role"] == OWNER
        client = orgs_backend.client
        for name in (org["id"], org["slug"]):
            answer = await client.get(f"/orgs/{name}", headers=owner.headers)
            assert answer.status_code == 200, answer.text
            assert answer.json()["id"] == org["id"]
        mine = (await client.get("/orgs", headers=owner.headers)).json()["organizations"]
        assert [(o["id"], o["role"]) for o in mine] == [(org["id"], OWNER)]
        members = (await client.get(f"/orgs/{org['id']}/members", headers=owner.headers)).json()
        assert [(m["user_id"], m["role"]) for m in members["members"]] == [(owner.id, OWNER)]

    async def test_times_read_back_as_aware_utc(self, orgs_backend: OrgsBackend) -> None:
        # SQLite has no time zones: every time the directory reads back must say it is UTC.
        owner = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        directory = orgs_backend.directory
        await directory.invite(org["id"], f"{new_slug()}@example.com", invited_by=owner.id)
        found = await directory.get(org["id"])
        assert found is not None
        (membership,) = await directory.members(org["id"])
        (invitation,) = await directory.invitations(org["id"])
        times = [found.created_at, membership.joined_at]
        times += [invitation.created_at, invitation.expires_at]
        for moment in times:
            assert moment.tzinfo is UTC, moment

    async def test_routes_need_a_signed_in_user(self, orgs_backend: OrgsBackend) -> None:
        assert (await orgs_backend.client.get("/orgs")).status_code == 401
        answer = await orgs_backend.client.post("/orgs", json={"slug": new_slug(), "name": "x"})
        assert answer.status_code == 401

    async def test_slugs_are_unique_and_checked(self, orgs_backend: OrgsBackend) -> None:
        owner = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        client = orgs_backend.client
        taken = await client.post(
            "/orgs", json={"slug": org["slug"], "name": "Copy"}, headers=owner.headers
        )
        assert_problem(taken, 409, "org_slug_taken")
        for bad in ("A", "Has Spaces", "-edge", "double--hyphen", "x" * 64):
            answer = await client.post(
                "/orgs", json={"slug": bad, "name": "Bad"}, headers=owner.headers
            )
            assert answer.status_code == 422, (bad, answer.text)
        assert_problem(
            await client.post(
                "/orgs", json={"slug": "Bad Slug", "name": "x"}, headers=owner.headers
            ),
            422,
            "org_slug_invalid",
        )

    async def test_admins_rename_and_members_cannot(self, orgs_backend: OrgsBackend) -> None:
        owner = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        member = await self.join(orgs_backend, org, owner)
        client = orgs_backend.client
        refused = await client.patch(
            f"/orgs/{org['id']}", json={"name": "Mine now"}, headers=member.headers
        )
        assert_problem(refused, 403, "org_role_required")
        slug = new_slug()
        renamed = await client.patch(
            f"/orgs/{org['id']}", json={"name": "Acme", "slug": slug}, headers=owner.headers
        )
        assert renamed.status_code == 200, renamed.text
        assert (renamed.json()["name"], renamed.json()["slug"]) == ("Acme", slug)
        assert (await client.get(f"/orgs/{slug}", headers=member.headers)).status_code == 200

    async def test_non_members_get_404_like_a_missing_org(self, orgs_backend: OrgsBackend) -> None:
        owner = await self.signup(orgs_backend)
        stranger = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        client = orgs_backend.client
        hidden = await client.get(f"/orgs/{org['id']}", headers=stranger.headers)
        missing = await client.get(f"/orgs/{new_slug()}", headers=stranger.headers)
        assert_problem(hidden, 404, "org_not_found")
        assert_problem(missing, 404, "org_not_found")
        for path in ("", "/members", "/invitations"):
            answer = await client.get(f"/orgs/{org['id']}{path}", headers=stranger.headers)
            assert_problem(answer, 404, "org_not_found")
        mine = (await client.get("/orgs", headers=stranger.headers)).json()
        assert mine == {"organizations": []}

    # -- invitations ---------------------------------------------------------------------

    async def test_an_invitation_is_accepted_once_by_the_invited_account(
        self, orgs_backend: OrgsBackend
    ) -> None:
        owner = await self.signup(orgs_backend)
        invitee = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        client = orgs_backend.client
        answer = await self.invite(orgs_backend, org, owner, invitee.email.upper(), ADMIN)
        assert answer.status_code == 201, answer.text
        invitation = answer.json()
        assert "token" not in invitation and invitation["role"] == ADMIN
        listed = (await client.get(f"/orgs/{org['id']}/invitations", headers=owner.headers)).json()
        assert [i["id"] for i in listed["invitations"]] == [invitation["id"]]
        token = orgs_backend.invitation_token(invitee.email)

        accepted = await client.post(f"/invitations/{token}/accept", headers=invitee.headers)
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["membership"]["role"] == ADMIN
        assert accepted.json()["organization"]["id"] == org["id"]
        mine = (await client.get("/orgs", headers=invitee.headers)).json()["organizations"]
        assert [(o["id"], o["role"]) for o in mine] == [(org["id"], ADMIN)]
        listed = (await client.get(f"/orgs/{org['id']}/invitations", headers=owner.headers)).json()
        assert listed == {"invitations": []}

        again = await client.post(f"/invitations/{token}/accept", headers=invitee.headers)
        assert_problem(again, 410, "org_invitation_spent")

    async def test_another_account_cannot_accept(self, orgs_backend: OrgsBackend) -> None:
        owner = await self.signup(orgs_backend)
        invitee = await self.signup(orgs_backend)
        thief = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        await self.invite(orgs_backend, org, owner, invitee.email, MEMBER)
        token = orgs_backend.invitation_token(invitee.email)
        client = orgs_backend.client
        stolen = await client.post(f"/invitations/{token}/accept", headers=thief.headers)
        assert_problem(stolen, 403, "org_invitation_other_account")
        assert (await client.get(f"/orgs/{org['id']}", headers=thief.headers)).status_code == 404
        # Still good for the invited account.
        answer = await client.post(f"/invitations/{token}/accept", headers=invitee.headers)
        assert answer.status_code == 200, answer.text

    async def test_unknown_and_expired_tokens_are_refused(self, orgs_backend: OrgsBackend) -> None:
        owner = await self.signup(orgs_backend)
        invitee = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        client = orgs_backend.client
        unknown = await client.post(
            f"/invitations/{secrets.token_urlsafe(32)}/accept", headers=invitee.headers
        )
        assert_problem(unknown, 404, "org_invitation_not_found")
        invitation = (await self.invite(orgs_backend, org, owner, invitee.email, MEMBER)).json()
        token = orgs_backend.invitation_token(invitee.email)
        await orgs_backend.expire_invitation(invitation["id"])
        expired = await client.post(f"/invitations/{token}/accept", headers=invitee.headers)
        assert_problem(expired, 410, "org_invitation_expired")
        listed = (await client.get(f"/orgs/{org['id']}/invitations", headers=owner.headers)).json()
        assert listed == {"invitations": []}

    async def test_a_withdrawn_or_replaced_invitation_is_spent(
        self, orgs_backend: OrgsBackend
    ) -> None:
        owner = await self.signup(orgs_backend)
        invitee = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        client = orgs_backend.client
        first = (await self.invite(orgs_backend, org, owner, invitee.email, MEMBER)).json()
        first_token = orgs_backend.invitation_token(invitee.email)
        await self.invite(orgs_backend, org, owner, invitee.email, MEMBER)  # a resend
        second_token = orgs_backend.invitation_token(invitee.email)
        assert second_token != first_token
        replaced = await client.post(f"/invitations/{first_token}/accept", headers=invitee.headers)
        assert_problem(replaced, 410, "org_invitation_spent")
        gone = await client.delete(
            f"/orgs/{org['id']}/invitations/{first['id']}", headers=owner.headers
        )
        assert_problem(gone, 404, "org_invitation_not_found")
        pending = (await client.get(f"/orgs/{org['id']}/invitations", headers=owner.headers)).json()
        (current,) = pending["invitations"]
        revoked = await client.delete(
            f"/orgs/{org['id']}/invitations/{current['id']}", headers=owner.headers
        )
        assert revoked.status_code == 204, revoked.text
        withdrawn = await client.post(
            f"/invitations/{second_token}/accept", headers=invitee.headers
        )
        assert_problem(withdrawn, 410, "org_invitation_spent")

    async def test_inviting_a_member_or_an_undeclared_role_is_refused(
        self, orgs_backend: OrgsBackend
    ) -> None:
        owner = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        member = await self.join(orgs_backend, org, owner)
        existing = await self.invite(orgs_backend, org, owner, member.email, MEMBER)
        assert_problem(existing, 409, "org_already_member")
        myself = await self.invite(orgs_backend, org, owner, owner.email.upper(), MEMBER)
        assert_problem(myself, 409, "org_already_member")
        undeclared = await self.invite(orgs_backend, org, owner, "new@example.com", "overlord")
        body = assert_problem(undeclared, 422, "org_role_unknown")
        assert MEMBER in body["detail"] or MEMBER in str(body.get("hint", ""))

    async def test_members_cannot_invite_and_admins_cannot_make_owners(
        self, orgs_backend: OrgsBackend
    ) -> None:
        owner = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        member = await self.join(orgs_backend, org, owner)
        admin = await self.join(orgs_backend, org, owner, ADMIN)
        refused = await self.invite(orgs_backend, org, member, "x@example.com", MEMBER)
        assert_problem(refused, 403, "org_role_required")
        as_owner = await self.invite(orgs_backend, org, admin, "y@example.com", OWNER)
        assert_problem(as_owner, 403, "org_role_required")
        promote = await orgs_backend.client.patch(
            f"/orgs/{org['id']}/members/{member.id}", json={"role": OWNER}, headers=admin.headers
        )
        assert_problem(promote, 403, "org_role_required")
        fine = await self.invite(orgs_backend, org, admin, "z@example.com", MEMBER)
        assert fine.status_code == 201, fine.text

    # -- roles and removal ---------------------------------------------------------------

    async def test_role_changes_and_removals_count_on_the_next_request(
        self, orgs_backend: OrgsBackend
    ) -> None:
        owner = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        member = await self.join(orgs_backend, org, owner)
        client = orgs_backend.client
        invitations = f"/orgs/{org['id']}/invitations"
        assert_problem(
            await client.get(invitations, headers=member.headers), 403, "org_role_required"
        )

        promoted = await client.patch(
            f"/orgs/{org['id']}/members/{member.id}", json={"role": ADMIN}, headers=owner.headers
        )
        assert promoted.status_code == 200 and promoted.json()["role"] == ADMIN, promoted.text
        assert (await client.get(invitations, headers=member.headers)).status_code == 200

        demoted = await client.patch(
            f"/orgs/{org['id']}/members/{member.id}", json={"role": MEMBER}, headers=owner.headers
        )
        assert demoted.status_code == 200, demoted.text
        assert_problem(
            await client.get(invitations, headers=member.headers), 403, "org_role_required"
        )

        removed = await client.delete(
            f"/orgs/{org['id']}/members/{member.id}", headers=owner.headers
        )
        assert removed.status_code == 204, removed.text
        answer = await client.get(f"/orgs/{org['id']}", headers=member.headers)
        assert_problem(answer, 404, "org_not_found")

    async def test_an_undeclared_role_is_refused(self, orgs_backend: OrgsBackend) -> None:
        owner = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        member = await self.join(orgs_backend, org, owner)
        answer = await orgs_backend.client.patch(
            f"/orgs/{org['id']}/members/{member.id}", json={"role": "god"}, headers=owner.headers
        )
        assert_problem(answer, 422, "org_role_unknown")

    async def test_the_last_owner_cannot_leave_or_be_demoted(
        self, orgs_backend: OrgsBackend
    ) -> None:
        owner = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        client = orgs_backend.client
        leave = await client.delete(f"/orgs/{org['id']}/members/me", headers=owner.headers)
        assert_problem(leave, 409, "org_last_owner")
        demote = await client.patch(
            f"/orgs/{org['id']}/members/{owner.id}", json={"role": ADMIN}, headers=owner.headers
        )
        assert_problem(demote, 409, "org_last_owner")
        with pytest.raises(Exception) as raised:
            await orgs_backend.directory.remove_member(org["id"], owner.id)
        assert getattr(raised.value, "code", None) == "org_last_owner"
        # With a second owner, the first may go.
        second = await self.join(orgs_backend, org, owner, OWNER)
        assert (
            await client.delete(f"/orgs/{org['id']}/members/me", headers=owner.headers)
        ).status_code == 204
        members = (await client.get(f"/orgs/{org['id']}/members", headers=second.headers)).json()
        assert [(m["user_id"], m["role"]) for m in members["members"]] == [(second.id, OWNER)]

    async def test_members_leave_and_admins_remove(self, orgs_backend: OrgsBackend) -> None:
        owner = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        leaver = await self.join(orgs_backend, org, owner)
        other = await self.join(orgs_backend, org, owner)
        client = orgs_backend.client
        refused = await client.delete(
            f"/orgs/{org['id']}/members/{other.id}", headers=leaver.headers
        )
        assert_problem(refused, 403, "org_role_required")
        left = await client.delete(f"/orgs/{org['id']}/members/me", headers=leaver.headers)
        assert left.status_code == 204, left.text
        assert (await client.get("/orgs", headers=leaver.headers)).json() == {"organizations": []}
        missing = await client.delete(
            f"/orgs/{org['id']}/members/{leaver.id}", headers=owner.headers
        )
        assert_problem(missing, 404, "org_member_not_found")

    async def test_ownership_transfers_to_a_member(self, orgs_backend: OrgsBackend) -> None:
        owner = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        heir = await self.join(orgs_backend, org, owner)
        client = orgs_backend.client
        answer = await client.post(
            f"/orgs/{org['id']}/transfer", json={"user_id": heir.id}, headers=owner.headers
        )
        assert answer.status_code == 200, answer.text
        roles = {m["user_id"]: m["role"] for m in answer.json()["members"]}
        assert roles == {heir.id: OWNER, owner.id: ADMIN}
        # The old owner is an admin now: owner-only routes refuse them on the next request.
        again = await client.post(
            f"/orgs/{org['id']}/transfer", json={"user_id": owner.id}, headers=owner.headers
        )
        assert_problem(again, 403, "org_role_required")
        stranger = await self.signup(orgs_backend)
        to_stranger = await client.post(
            f"/orgs/{org['id']}/transfer", json={"user_id": stranger.id}, headers=heir.headers
        )
        assert_problem(to_stranger, 404, "org_member_not_found")

    # -- deletion ------------------------------------------------------------------------

    async def test_deletion_is_soft_then_purged(self, orgs_backend: OrgsBackend) -> None:
        owner = await self.signup(orgs_backend)
        org = await self.create_org(orgs_backend, owner)
        admin = await self.join(orgs_backend, org, owner, ADMIN)
        client = orgs_backend.client
        assert_problem(
            await client.delete(f"/orgs/{org['id']}", headers=admin.headers),
            403,
            "org_role_required",
        )
        deleted = await client.delete(f"/orgs/{org['id']}", headers=owner.headers)
        assert deleted.status_code == 200, deleted.text
        assert deleted.json()["purge_after"] is not None
        assert_problem(
            await client.get(f"/orgs/{org['id']}", headers=owner.headers), 404, "org_not_found"
        )
        assert (await client.get("/orgs", headers=admin.headers)).json() == {"organizations": []}
        directory = orgs_backend.directory
        assert await directory.get(org["id"]) is None
        # Within the grace period it can be restored, slug and members intact.
        restored = await directory.restore(org["id"])
        assert restored.slug == org["slug"]
        assert (await client.get(f"/orgs/{org['slug']}", headers=admin.headers)).status_code == 200
        gone = await directory.delete(org["id"])
        assert gone.purge_after is not None
        assert await directory.purge(now=gone.purge_after - timedelta(seconds=1)) == 0
        assert await directory.purge(now=gone.purge_after + timedelta(seconds=1)) >= 1
        with pytest.raises(Exception) as raised:
            await directory.restore(org["id"])
        assert getattr(raised.value, "code", None) == "org_not_found"
        # The slug is free again.
        reused = await client.post(
            "/orgs", json={"slug": org["slug"], "name": "Again"}, headers=owner.headers
        )
        assert reused.status_code == 201, reused.text

    # -- events --------------------------------------------------------------------------

    async def test_events_reach_subscribers(self, orgs_backend: OrgsBackend) -> None:
        directory = orgs_backend.directory
        recorder = Recorder(
            directory, ORG_CREATED, MEMBER_ADDED, MEMBER_REMOVED, INVITATION_ACCEPTED
        )
        try:
            owner = await self.signup(orgs_backend)
            org = await self.create_org(orgs_backend, owner)
            member = await self.join(orgs_backend, org, owner)
            removed = await orgs_backend.client.delete(
                f"/orgs/{org['id']}/members/{member.id}", headers=owner.headers
            )
            assert removed.status_code == 204
        finally:
            recorder.close()
        assert recorder.of(org["id"]) == [
            (ORG_CREATED, owner.id),
            (MEMBER_ADDED, owner.id),
            (MEMBER_ADDED, member.id),
            (INVITATION_ACCEPTED, member.id),
            (MEMBER_REMOVED, member.id),
        ]
        with pytest.raises(ValueError, match="unknown"):
            directory.subscribe("org.creatd", recorder._record)
