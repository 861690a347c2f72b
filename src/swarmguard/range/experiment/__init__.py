"""Table 1 on the range: every configuration on the same scenario and seed, measured end to end.

``artifacts`` reads what a range run left (ground truth, benign log, agents' events, fail2ban's
log, captures); ``measure`` joins them into the table's figures; ``training`` turns the warm-up
capture into labelled rows and trains the learned detectors (SVM here, LSTM and GNN through the
real Flower deployment); ``offline`` adds the public-data rows; ``report`` and ``plots`` write the
results; ``table1`` runs it all.
"""
