"""The outbox relay: committed order events to NATS JetStream (docs/integrations.md).

``messages``: streams, subjects and message bodies (pure); ``relay``: the loop, its lease and
position in the store, back-off while the broker is down.
"""
