"""Shared building blocks of the order platform.

`events` (contracts), `messaging` (the dead-lettering event handler), `outbox` and
`inbox` (delivery guarantees), `rpc` (the gateway's proxy pool), `db`, `logging`,
`config`, `errors`, `testing`. Nothing here owns data.
"""
