"""Declarative provisioning: ``ostiary apply FILE...`` and ``ostiary export``.

``document`` reads the provisioning file, ``checks`` finds every problem in it before anything
is written, ``apply`` brings the database to the state it describes in one transaction, and
``export`` writes the stored state back in the same format.
"""
