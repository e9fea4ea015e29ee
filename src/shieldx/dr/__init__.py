"""High availability and disaster recovery: regions, replication modes, health, failover, drills.

Built on Patroni with etcd (the HA engine) and PostgreSQL streaming replication; ShieldX's
own part is the region health score, the recorded six-step failover, the write fence the
credits commit process checks before it acknowledges, and the measured drills.
"""
