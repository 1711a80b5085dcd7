"""Authentication (``server.auth``): static API keys, bearer JWTs (JWKS or shared key) and token introspection.

Only ``config`` is imported by the run config; the rest (and PyJWT, the ``[auth]`` extra) loads when a server starts
with auth configured.
"""
