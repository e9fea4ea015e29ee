"""Access tokens: issuing, verifying (JWS), introspecting and revoking them."""
