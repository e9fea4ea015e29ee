"""The event store: the reading side (base.py), the commit side (commits.py), their SQLite and
PostgreSQL subclasses, the SQL, and the records the writer and the store exchange."""
