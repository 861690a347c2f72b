#!/bin/sh
# Sample: nmap (the real tool) run as a sample: a TCP connect scan of 100 ports.
# swarmguard-label: PortScan
exec nmap -sT -Pn -n --max-retries 0 -T4 -p 1-100 "$(getent hosts nmap-target.example | cut -d' ' -f1)"
