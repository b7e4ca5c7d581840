"""Every mapped model, imported once so that the metadata is complete (Alembic, tests)."""

from ostiary.access.models import (  # noqa: F401
    Acl,
    AclTemplate,
    GroupMember,
    GroupRight,
    Module,
    PolicyRight,
    RightsEpoch,
    TemplateRight,
    UserGroup,
    UserPreference,
    UserRight,
)
from ostiary.api.models import IdempotencyRecord  # noqa: F401
from ostiary.audit.models import AuditEvent  # noqa: F401
from ostiary.authn.factors.models import (  # noqa: F401
    FactorCounter,
    Passkey,
    RecoveryCode,
    SecondFactorCode,
    TotpCredential,
    WebAuthnChallenge,
)
from ostiary.authn.models import BrowserSession, LoginFlow, OneTimeToken  # noqa: F401
from ostiary.authn.throttle import SignInThrottle  # noqa: F401
from ostiary.branding.models import Branding  # noqa: F401
from ostiary.clients.models import Client  # noqa: F401
from ostiary.contexts.models import Context  # noqa: F401
from ostiary.contracts.models import Contract  # noqa: F401
from ostiary.db.base import Base
from ostiary.db.change_topics import ChangeTopic  # noqa: F401
from ostiary.federation.models import IdentityProvider  # noqa: F401
from ostiary.imports.models import UserImport  # noqa: F401
from ostiary.invitations.models import Invitation, invitation_groups  # noqa: F401
from ostiary.keys.models import SigningKey  # noqa: F401
from ostiary.messages.models import Message, MessageTemplate  # noqa: F401
from ostiary.protocols.oidc.models import (  # noqa: F401
    AuthorizationCode,
    Grant,
    RefreshToken,
    RevokedAccessToken,
    UsedClientAssertion,
)
from ostiary.registrations.models import Registration  # noqa: F401
from ostiary.users.models import (  # noqa: F401
    ContactVerification,
    ExternalIdentity,
    Membership,
    User,
    UserDomain,
    UserSearchTerm,
)
from ostiary.webhooks.models import (  # noqa: F401
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)

metadata = Base.metadata

import ostiary.access.epochs  # noqa: E402,F401  (registers the session hooks that invalidate cached rights)
import ostiary.users.terms  # noqa: E402,F401  (keeps user search terms in step with users)
import ostiary.webhooks.events  # noqa: E402,F401  (makes webhook events from audit events)
