"""The audit log: one event per change, written in the transaction of the change."""
