"""Pure sourcing decision logic: plain data in, plain data out.

Nothing here performs I/O, reads a clock, or knows about gRPC, protobuf or SQL;
`make lint` enforces this with import-linter.
"""
