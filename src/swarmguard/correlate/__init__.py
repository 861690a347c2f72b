"""Cross-agent correlation: the same source seen by several agents, leaky buckets, blocklists."""
