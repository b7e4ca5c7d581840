"""Who a verified upstream identity is here: the user linked by (provider, subject), or a
just-in-time user of the provider's domain."""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from ostiary.audit.actor import Actor
from ostiary.audit.services import AuditLog
from ostiary.authn.passwords import Passwords
from ostiary.db.session import OstiarySession
from ostiary.federation.models import IdentityProvider
from ostiary.federation.relying_party import VerifiedIdentity
from ostiary.users.models import ExternalIdentity, User, UserDomain, UserStatus
from ostiary.users.schemas import UserCreate
from ostiary.users.services import UserService

# Not a webhook event: the user's representation does not show their external identities, and
# a link is made only with a new account, whose own event (``user.created``) goes out.
IDENTITY_LINKED = "user.identity_linked"


class FederatedSignIn:
    def __init__(self, session: OstiarySession, passwords: Passwords, address: str | None) -> None:
        self.session = session
        self.passwords = passwords
        self.address = address

    def linked(self, provider: IdentityProvider, identity: VerifiedIdentity) -> User | None:
        link = self.session.scalars(
            select(ExternalIdentity).where(
                ExternalIdentity.idp == provider.key, ExternalIdentity.subject == identity.subject
            )
        ).one_or_none()
        return None if link is None else link.user

    def user_for(self, provider: IdentityProvider, identity: VerifiedIdentity) -> User | None:
        """The user to sign in, made on first sight; None when the linked one may not sign in
        (inactive, deleted). In the caller's transaction."""
        user = self.linked(provider, identity)
        if user is not None:
            return user if user.status == UserStatus.ACTIVE else None
        domain = self.session.get(UserDomain, provider.domain_id)
        assert domain is not None  # a foreign key
        actor = self._actor(provider)
        email = identity.verified_email
        user = UserService(self.session, actor, self.passwords).create(
            UserCreate(
                username=just_in_time_username(provider, identity),
                domain=domain.name,
                status=UserStatus.ACTIVE,
                # Only an address the upstream vouches for: another would let anyone claim it.
                email=email,
                email_verified=email is not None,
            )
        )
        self.link(user, provider, identity)
        return user

    def link(self, user: User, provider: IdentityProvider, identity: VerifiedIdentity) -> None:
        """The identity signs ``user`` in from now on; audited. In the caller's transaction."""
        self.session.add(
            ExternalIdentity(user_id=user.id, idp=provider.key, subject=identity.subject)
        )
        self.session.flush()
        AuditLog(self.session).record(
            self._actor(provider),
            IDENTITY_LINKED,
            target_type="user",
            target_id=user.id,
            changes={"provider": provider.key, "subject": identity.subject},
        )

    def _actor(self, provider: IdentityProvider) -> Actor:
        return Actor(f"federation:{provider.key}", "web", None, self.address)


def just_in_time_username(provider: IdentityProvider, identity: VerifiedIdentity) -> str:
    """Stable for the identity and free of the subject's own characters (any string)."""
    digest = hashlib.sha256(identity.subject.encode()).hexdigest()[:20]
    return f"{provider.key}.{digest}"
