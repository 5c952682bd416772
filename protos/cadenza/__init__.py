"""Cadenza's wire contract: generated stubs under `cadenza.v1`, and the gRPC plumbing both
services share (`cadenza.auth`)."""
