"""A network-namespace testbed: zones, services, benign users and attacks from a scenario."""
