"""The gRPC server: servicers per service, job store (SQLite), auth, limits, metrics.

`service.server.create_server` builds a server (tests bind port 0); `service.server.serve` runs
one until SIGTERM/SIGINT. The library (`codec/`) never imports this package.
"""
