"""Features: records in, numeric matrices out.

Contract: preprocessing (cleaning, encoding, standardisation) is fitted on training rows only and
saved with the model; ``mapping`` documents which capture flow statistics mean the same as each
dataset's columns. Imports records and acquire only.
"""

__all__: list[str] = []
