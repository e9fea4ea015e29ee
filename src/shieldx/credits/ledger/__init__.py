"""The ledger: the account aggregate and its events and commands (pure), the application
service, the sweeper, and the POST command routes."""
