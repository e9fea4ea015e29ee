"""The read side: read models and their maintenance, the read queries and GET routes, usage
reports, bulk replay."""
