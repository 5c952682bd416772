"""Behaviour suite: reference section 3 (scenarios 1-117, groups A-N) against the public API."""
