"""Invitations into contexts: by staff, contact persons and a CRM, accepted through a link."""
