"""``oauth-login``: sign in with OpenID Connect and social providers, through ``Auth``."""
