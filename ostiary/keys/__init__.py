"""Signing keys: generated, stored encrypted, published in the JWKS, rotated."""
