<?php
// Catalog\Connect\ConnectOptions: how a ConnectTransport talks to the server.
//
// Contract: an immutable value, checked when built (a bad value throws
// \InvalidArgumentException there, never later in a call). Use named
// arguments:
//   new ConnectOptions(timeoutMs: 300, http2: true)
// Fields:
//   timeoutMs         deadline of every call unless CallOptions says otherwise
//                     (sent as Connect-Timeout-Ms); >= 1.
//   connectTimeoutMs  bound on establishing a connection (never beyond the
//                     call's deadline); >= 1.
//   http2             false: HTTP/1.1 with keep-alive. true: HTTP/2, over
//                     cleartext with prior knowledge (h2c) for http:// URLs,
//                     negotiated by ALPN for https:// ones. With a libcurl
//                     older than 8.0.0 (Debian 12), h2c opens a connection per
//                     call (see ConnectTransport): keep HTTP/1.1 there.
//   json              false: binary protobuf (application/proto). true: the
//                     proto3 JSON mapping (application/json), for debugging or
//                     proxies that must read bodies; needs ext-bcmath (the
//                     pure-PHP protobuf runtime parses 64-bit JSON numbers with it).
//   maxResponseBytes  a longer response body fails the call with
//                     resource_exhausted instead of filling memory.
//   headers           sent with every call (name => value), e.g. an
//                     authorization header; CallOptions adds per call.
//   userAgent         the User-Agent header.
declare(strict_types=1);

namespace Catalog\Connect;

final class ConnectOptions
{
    /**
     * @param array<string, string> $headers
     */
    public function __construct(
        public readonly int $timeoutMs = 1000,
        public readonly int $connectTimeoutMs = 1000,
        public readonly bool $http2 = false,
        public readonly bool $json = false,
        public readonly int $maxResponseBytes = 64 << 20,
        public readonly array $headers = [],
        public readonly string $userAgent = 'catalog-connect-php/1',
    ) {
        if ($timeoutMs < 1) {
            throw new \InvalidArgumentException("timeoutMs must be >= 1, not $timeoutMs");
        }
        if ($connectTimeoutMs < 1) {
            throw new \InvalidArgumentException("connectTimeoutMs must be >= 1, not $connectTimeoutMs");
        }
        if ($maxResponseBytes < 1) {
            throw new \InvalidArgumentException("maxResponseBytes must be >= 1, not $maxResponseBytes");
        }
        Headers::check($headers);
        Headers::check(['user-agent' => $userAgent]);
    }
}
