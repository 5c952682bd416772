"""Hand-written Python both services share: serving a gRPC server (`cadenza.serving`), the
API token (`cadenza.auth`), client channels with TLS (`cadenza.transport`) and reading the
`CADENZA_*` variables (`cadenza.settings`).

`cadenza.v1` is the generated code of the contract in `protos/cadenza/v1/`: made by
`make protos`, never edited by hand and never committed."""
