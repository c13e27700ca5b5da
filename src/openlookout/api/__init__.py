"""The HTTP surface: the Lookout for Vision wire protocol (REST-JSON 2020-11-20), driven by the API model.

``create_app(runtime)`` (``api.app``) serves every modelled operation through one endpoint
(``api.wire``): caller context (``api.sigv4``), route (``api.routing``), decode (``api.decoding``),
validate (``spec.validation``, ``spec.patterns``), call the service handler, encode
(``api.encoding``). Errors use the AWS format (``api.errors``); ClientTokens are honoured by
``service.idempotency``;
OpenLookout's own routes live in ``api.extensions``.

Decisions where AWS left the behaviour open:

- An unknown method/path answers 404 ``UnknownOperationException`` (JSON), as AWS front ends do.
- A modelled operation whose handler is not in ``service.operations.OPERATIONS`` answers 400
  ``ValidationException`` "... is not available in this version" (a 4xx, so SDKs do not retry).
- With a credentials file every request must carry a valid SigV4 signature (``api.authentication``;
  AWS's 403 codes). Without one, a malformed ``Authorization`` header or credential scope answers
  403 ``AccessDeniedException`` and signatures are not checked (the server is then loopback-only).
- ``Host`` and ``Origin`` must be the server's own (``api.request_guard``) and API bodies JSON or
  image types (``api.content_types``), in both modes.
- Patterns are full matches; every rule broken is listed in one ``ValidationException`` message.
- Bodies: JSON up to 16 MiB; DetectAnomalies' raw image up to 8 MiB with Content-Length required.
- A reused ClientToken with other parameters answers ``ConflictException`` naming the
  operation's resource type; only successful responses are stored, for 8 hours.
- Unexpected failures answer a generic ``InternalServerException`` naming the request id; the
  traceback goes to the ``openlookout.api`` log only.
"""
