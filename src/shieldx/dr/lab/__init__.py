"""A throwaway two-region deployment on loopback: one etcd, one Patroni member per region."""
