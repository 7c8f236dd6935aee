"""Conformance resources kept in the store: the shipped ones published read-only at start-up, and
SearchParameters posted by clients made searchable."""
