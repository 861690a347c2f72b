#!/bin/sh
# Sample: hping3 (the real tool) run as a sample: a short burst of 200 SYNs to port 80.
# It needs raw sockets, so it asks for them:
# swarmguard-sandbox: net_raw
# swarmguard-label: DDoS
exec hping3 -q -S -p 80 -c 200 -i u2000 "$(getent hosts hping-target.example | cut -d' ' -f1)"
