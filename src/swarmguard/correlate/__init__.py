"""Cross-agent correlation: the same source seen by several agents, leaky buckets, blocklists.

``Correlator`` (``swarmguard.correlate.correlator``) turns alerts from many agents into
coordinator decisions; ``SharedBlocklist`` (``swarmguard.correlate.blocklist``) follows the
decision stream every agent shares.
"""
