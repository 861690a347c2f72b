"""A network-namespace testbed: zones, services, benign users and attacks from a scenario.

``scenario`` reads the YAML scenario files (``scenarios/small.yaml``, ``campus.yaml``),
``topology`` builds the namespaces (one per host, a router with a bridge per zone),
``services`` starts nginx, sshd, vsftpd, dnsmasq, the C2 server and fail2ban, ``benign`` is
the benign users' script, ``attacks`` turns schedule steps into tool command lines,
``agents`` configures and starts the coordinator and one agent per zone, and ``runner``
(``run_scenario`` -> ``RunArtifacts``) runs one phase end to end. See ``docs/range.md``.
"""
