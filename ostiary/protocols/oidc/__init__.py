"""OpenID Connect and OAuth 2.0 provider; modules are named after the specifications."""
