"""The group-commit writer: submissions, work units, the cache of aggregates, commit plans, and
the commit process (pipe.py: the writer's end; process.py: the process)."""
