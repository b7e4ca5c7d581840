"""Federated login: upstream OpenID Connect providers whose users sign in to Ostiary."""
