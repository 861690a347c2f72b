"""Response: policies choose decisions from alerts; enforcers apply them behind safety rails."""
