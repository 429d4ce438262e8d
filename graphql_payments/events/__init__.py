"""Events out: a transactional outbox, and the relay that publishes it.

* `catalogue`  the event types (one enum), their payloads and a JSON Schema for each
* `models`     the outbox (`outbox_events`), per-sink deliveries, webhook endpoints
* `recorder`   writes outbox rows in the same transaction as the change they announce
* `repository` SQL: claims (`FOR UPDATE SKIP LOCKED` on PostgreSQL), endpoints, deliveries
* `relay`      at-least-once delivery in order per payment, backoff, dead letters
* `sinks`      Standard Webhooks over HTTP, and a message broker through FastStream
* `service`    what admins do with webhook endpoints and deliveries
* `feed`       live updates for the `paymentUpdated` subscription, read from the outbox
"""
