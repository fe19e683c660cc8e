<?php
// Catalog\Connect\CallOptions: what one call adds to its transport's options.
//
// Contract: an immutable value, checked when built (\InvalidArgumentException
// there, never later in the call). Every field is optional:
//   timeoutMs  this call's deadline in milliseconds (>= 1), instead of
//              ConnectOptions::timeoutMs. The server gets it as
//              Connect-Timeout-Ms and answers deadline_exceeded once it
//              passes; the client itself gives up a little later (see
//              ConnectTransport), with deadline_exceeded too.
//   requestId  sent as x-request-id (1..128 of [A-Za-z0-9._:/+=-] is kept by
//              the server, anything else replaced by one it makes up); the id
//              the server used comes back in CallInfo::requestId() and
//              CatalogException::requestId().
//   headers    more request headers (name => value) for this call only.
// One CallOptions may be reused for any number of calls.
declare(strict_types=1);

namespace Catalog\Connect;

final class CallOptions
{
    /**
     * @param array<string, string> $headers
     */
    public function __construct(
        public readonly ?int $timeoutMs = null,
        public readonly ?string $requestId = null,
        public readonly array $headers = [],
    ) {
        if ($timeoutMs !== null && $timeoutMs < 1) {
            throw new \InvalidArgumentException("timeoutMs must be >= 1, not $timeoutMs");
        }
        Headers::check($headers);
        if ($requestId !== null) {
            Headers::check(['x-request-id' => $requestId]);
        }
    }
}
