"""Pages for people, beside the API: the hosted checkout (and later the dashboards).

An entry-point layer like ``kassa.api``, which mounts these apps into its own (one process,
one port, one middleware stack); nothing here imports ``kassa.api``."""
