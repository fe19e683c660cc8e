<?php
// Catalog\Connect\CallInfo: what the transport learnt about one finished call.
//
// Contract: an immutable value made by ConnectTransport for each call that got
// an HTTP answer, successful or not (ConnectTransport::lastCall()); a call
// that got no answer (connection refused, timed out) leaves an info with
// httpStatus 0 and no headers. Header names are lower-case. Connect sends a
// unary call's trailing metadata as headers prefixed "trailer-": trailers()
// has them without the prefix, headers() has every header as received.
declare(strict_types=1);

namespace Catalog\Connect;

final class CallInfo
{
    /**
     * @param array<string, list<string>> $headers lower-case name => values, in order received
     */
    public function __construct(
        public readonly string $method,
        public readonly int $httpStatus,
        /** "1.1", "2", or "" when no answer came. */
        public readonly string $httpVersion,
        /** Connections opened for this call: 0 when an idle one was reused. */
        public readonly int $newConnections,
        public readonly float $totalTimeMs,
        public readonly array $headers,
        /** The x-request-id this call sent, if any. */
        public readonly ?string $sentRequestId,
    ) {
    }

    /** The first value of a response header, or null. */
    public function header(string $name): ?string
    {
        return $this->headers[strtolower($name)][0] ?? null;
    }

    /** @return array<string, list<string>> trailing metadata (from "trailer-" headers), prefix removed */
    public function trailers(): array
    {
        $trailers = [];
        foreach ($this->headers as $name => $values) {
            if (strncmp($name, 'trailer-', 8) === 0 && strlen($name) > 8) {
                $trailers[substr($name, 8)] = $values;
            }
        }
        return $trailers;
    }

    /** The first value of a trailer (name without "trailer-"), or null. */
    public function trailer(string $name): ?string
    {
        return $this->headers['trailer-' . strtolower($name)][0] ?? null;
    }

    /**
     * The request id the server used: its x-request-id trailer (or header),
     * else the one sent, else null.
     */
    public function requestId(): ?string
    {
        return $this->trailer('x-request-id') ?? $this->header('x-request-id') ?? $this->sentRequestId;
    }
}
