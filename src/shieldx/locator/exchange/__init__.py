"""RFC 8693 token exchange: external OIDC ID tokens for locator access tokens."""
