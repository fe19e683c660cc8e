<?php
// Catalog\Connect\ConnectTransport: unary calls over the Connect protocol
// (connectrpc.com/docs/protocol) with curl, against the catalog-server's HTTP
// listener (--http_listen_address). No ext-grpc needed: ext-curl and the
// protobuf runtime (google/protobuf, or Debian's php-google-protobuf).
//
//   $transport = new ConnectTransport('http://catalog.internal:8080', new ConnectOptions(timeoutMs: 300));
//   $product = $transport->unary('catalog.v1.CatalogService', 'GetProduct', $request, Product::class);
//
// Contract:
//   - unary() POSTs the request to {base URL}/{service}/{method} as binary
//     protobuf (application/proto) or, with ConnectOptions::json, the proto3
//     JSON mapping (application/json), with Connect-Protocol-Version: 1 and
//     Connect-Timeout-Ms set to the call's deadline. It returns a new
//     $responseClass message decoded from a 200 answer of the same content
//     type (unknown JSON fields are ignored, as unknown binary fields are).
//   - Every failure throws CatalogException (see there for the codes): the
//     server's Connect error, a non-Connect HTTP error (code inferred from
//     the status), no answer (unavailable), the deadline (deadline_exceeded:
//     the server's own, or curl's, which waits max(50 ms, 10%) beyond the
//     deadline so that the server's answer wins when it comes in time), an
//     unusable answer (internal), an answer above maxResponseBytes
//     (resource_exhausted). Programming errors (a service or method that is
//     not a protobuf name, a response class that is not a message) throw
//     \InvalidArgumentException. Calls are never retried here: a write whose
//     answer was lost may have been applied (catalog.v2's request_id makes
//     write retries safe).
//   - Connections: one curl handle for the transport's life, so consecutive
//     calls reuse one kept-alive connection (HTTP/1.1, or one HTTP/2
//     connection with ConnectOptions::http2); curl replaces a connection the
//     server closed. lastCall() tells, per call, whether a new one was
//     opened. Exception: libcurl before 8.0.0 (Debian 12 has 7.88.1) fails
//     every call after the first on a reused h2c prior-knowledge connection
//     ("Error in the HTTP2 framing layer", curl/curl#10634), so with such a
//     libcurl, h2c calls each get a connection of their own
//     (reusesConnections() is false): use HTTP/1.1 there. Under
//     php-fpm the handle, so the connection, lasts one PHP request: create
//     one transport per request and share it between clients (both
//     CatalogV1Client and CatalogV2Client accept a transport).
//   - Threads and ownership: PHP runs one call at a time per transport; a
//     transport must not be shared across threads (ext-parallel, ZTS). The
//     transport owns its curl handle; close() (or destruction) releases it
//     and the connection, and a later call opens a new one.
declare(strict_types=1);

namespace Catalog\Connect;

use Google\Protobuf\Internal\Message;

final class ConnectTransport
{
    private const PROTO = 'application/proto';
    private const JSON = 'application/json';

    private string $baseUrl;
    private ConnectOptions $options;
    private ?\CurlHandle $curl = null;
    private ?CallInfo $lastCall = null;

    /**
     * @param string $target base URL of the Connect listener, e.g.
     *     "http://127.0.0.1:8080" or "https://catalog.example/api"; a bare
     *     "host:port" means http://host:port.
     */
    public function __construct(string $target, ?ConnectOptions $options = null)
    {
        if (!str_contains($target, '://')) {
            $target = 'http://' . $target;
        }
        $parts = parse_url($target) ?: [];
        $scheme = strtolower((string)($parts['scheme'] ?? ''));
        if (!in_array($scheme, ['http', 'https'], true) || ($parts['host'] ?? '') === ''
            || isset($parts['query']) || isset($parts['fragment'])) {
            throw new \InvalidArgumentException("target $target is not an http:// or https:// base URL");
        }
        $this->baseUrl = rtrim($target, '/');
        $this->options = $options ?? new ConnectOptions();
    }

    public function baseUrl(): string
    {
        return $this->baseUrl;
    }

    public function options(): ConnectOptions
    {
        return $this->options;
    }

    /** What the last call of this transport learnt (status, headers, trailers, connection reuse); null before any. */
    public function lastCall(): ?CallInfo
    {
        return $this->lastCall;
    }

    /**
     * Whether consecutive calls share a connection: true except for h2c
     * (http2 over http://) with a libcurl older than 8.0.0.
     */
    public function reusesConnections(): bool
    {
        return !($this->options->http2 && strncasecmp($this->baseUrl, 'http:', 5) === 0
            && curl_version()['version_number'] < 0x080000);
    }

    /** Releases the curl handle and its connections; the next call opens a new one. */
    public function close(): void
    {
        $this->curl = null;
    }

    public function __destruct()
    {
        $this->close();
    }

    /**
     * One unary call.
     *
     * @template T of Message
     * @param string $service fully-qualified protobuf service, e.g. "catalog.v1.CatalogService"
     * @param string $method RPC name, e.g. "GetProduct"
     * @param class-string<T> $responseClass
     * @return T
     * @throws CatalogException
     */
    public function unary(string $service, string $method, Message $request, string $responseClass,
                          ?CallOptions $call = null): Message
    {
        if (preg_match('/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/D', $service) !== 1
            || preg_match('/^[A-Za-z_][A-Za-z0-9_]*$/D', $method) !== 1) {
            throw new \InvalidArgumentException("\"$service/$method\" is not a protobuf service and method name");
        }
        if (!is_subclass_of($responseClass, Message::class)) {
            throw new \InvalidArgumentException("$responseClass is not a protobuf message class");
        }
        $json = $this->options->json;
        $contentType = $json ? self::JSON : self::PROTO;
        $timeoutMs = $call?->timeoutMs ?? $this->options->timeoutMs;
        $sentRequestId = $call?->requestId;
        $path = "/$service/$method";
        $this->lastCall = new CallInfo($path, 0, '', 0, 0.0, [], $sentRequestId);

        try {
            $body = $json ? $request->serializeToJsonString() : $request->serializeToString();
        } catch (\Throwable $e) {
            throw new CatalogException(Code::INTERNAL, "$path: the request does not encode: " . $e->getMessage(),
                0, $sentRequestId, [], $e);
        }

        $headers = [
            "Content-Type: $contentType",
            'Connect-Protocol-Version: 1',
            // The protocol allows at most 10 digits.
            'Connect-Timeout-Ms: ' . min($timeoutMs, 9999999999),
            // No "Expect: 100-continue" round trip before larger bodies.
            'Expect:',
        ];
        foreach ([$this->options->headers, $call?->headers ?? []] as $extra) {
            foreach ($extra as $name => $value) {
                $headers[] = "$name: $value";
            }
        }
        if ($sentRequestId !== null) {
            $headers[] = "x-request-id: $sentRequestId";
        }

        // The callbacks write into this object, not into $this: the handle
        // keeps them until the next call, and must not keep the transport alive.
        $received = new \stdClass();
        $received->headers = [];
        $received->body = '';
        $received->tooLarge = false;
        $maxBytes = $this->options->maxResponseBytes;
        $giveUpMs = $timeoutMs + max(50, intdiv($timeoutMs, 10));
        $secure = strncasecmp($this->baseUrl, 'https:', 6) === 0;

        $curl = $this->handle();
        curl_reset($curl);  // Options only: the connection cache stays.
        curl_setopt_array($curl, [
            CURLOPT_URL => $this->baseUrl . $path,
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_USERAGENT => $this->options->userAgent,
            CURLOPT_HTTP_VERSION => !$this->options->http2 ? CURL_HTTP_VERSION_1_1
                : ($secure ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE),
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_TIMEOUT_MS => $giveUpMs,
            CURLOPT_CONNECTTIMEOUT_MS => min($this->options->connectTimeoutMs, $giveUpMs),
            CURLOPT_NOSIGNAL => true,
            CURLOPT_TCP_NODELAY => true,
            CURLOPT_TCP_KEEPALIVE => 1,
            CURLOPT_FORBID_REUSE => !$this->reusesConnections(),
            CURLOPT_HEADERFUNCTION => static function ($handle, string $line) use ($received): int {
                $length = strlen($line);
                $line = rtrim($line, "\r\n");
                if (strncmp($line, 'HTTP/', 5) === 0) {
                    $received->headers = [];  // A new response (after "100 Continue").
                } elseif (($colon = strpos($line, ':')) !== false && $colon > 0) {
                    $name = strtolower(trim(substr($line, 0, $colon)));
                    $received->headers[$name][] = trim(substr($line, $colon + 1));
                }
                return $length;
            },
            CURLOPT_WRITEFUNCTION => static function ($handle, string $data) use ($received, $maxBytes): int {
                if (strlen($received->body) + strlen($data) > $maxBytes) {
                    $received->tooLarge = true;
                    return 0;  // Aborts the transfer (CURLE_WRITE_ERROR).
                }
                $received->body .= $data;
                return strlen($data);
            },
        ]);
        curl_exec($curl);
        $errno = curl_errno($curl);
        $error = curl_error($curl);
        $status = (int)curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        $versions = [CURL_HTTP_VERSION_1_0 => '1.0', CURL_HTTP_VERSION_1_1 => '1.1', CURL_HTTP_VERSION_2_0 => '2'];
        $info = new CallInfo(
            $path,
            $errno === 0 ? $status : 0,
            $status === 0 ? '' : ($versions[curl_getinfo($curl, CURLINFO_HTTP_VERSION)] ?? 'other'),
            (int)curl_getinfo($curl, CURLINFO_NUM_CONNECTS),
            (float)curl_getinfo($curl, CURLINFO_TOTAL_TIME) * 1000.0,
            $received->headers,
            $sentRequestId,
        );
        $responseBody = $received->body;
        $received->body = '';
        $this->lastCall = $info;
        $requestId = $info->requestId();

        if ($errno !== 0) {
            if ($received->tooLarge) {
                throw new CatalogException(Code::RESOURCE_EXHAUSTED,
                    "$path: the response is larger than maxResponseBytes ($maxBytes)", $status, $requestId);
            }
            if ($errno === CURLE_OPERATION_TIMEDOUT) {
                throw new CatalogException(Code::DEADLINE_EXCEEDED,
                    "$path: no answer within the deadline of {$timeoutMs} ms ($error)", 0, $requestId);
            }
            throw new CatalogException(Code::UNAVAILABLE, "$path: $error (curl error $errno)", 0, $requestId);
        }
        if ($status !== 200) {
            throw self::errorFromResponse($path, $status, $info, $responseBody, $requestId);
        }

        $answerType = self::mediaType($info->header('content-type'));
        if ($answerType !== $contentType) {
            throw new CatalogException(Code::INTERNAL,
                "$path: the answer's Content-Type is \"$answerType\", not $contentType", $status, $requestId);
        }
        $encoding = strtolower($info->header('content-encoding') ?? 'identity');
        if ($encoding !== 'identity') {
            throw new CatalogException(Code::INTERNAL,
                "$path: the answer is compressed ($encoding), which was not asked for", $status, $requestId);
        }
        $response = new $responseClass();
        try {
            if ($json) {
                $response->mergeFromJsonString($responseBody, true);
            } else {
                $response->mergeFromString($responseBody);
            }
        } catch (\Throwable $e) {
            throw new CatalogException(Code::INTERNAL,
                "$path: the answer does not decode as $responseClass: " . $e->getMessage(), $status, $requestId, [], $e);
        }
        return $response;
    }

    private function handle(): \CurlHandle
    {
        if ($this->curl === null) {
            $curl = curl_init();
            if ($curl === false) {
                throw new CatalogException(Code::INTERNAL, 'curl_init failed');
            }
            $this->curl = $curl;
        }
        return $this->curl;
    }

    /** "application/json; charset=utf-8" => "application/json". */
    private static function mediaType(?string $contentType): string
    {
        return strtolower(trim(explode(';', $contentType ?? '', 2)[0]));
    }

    /**
     * The exception for a non-200 answer: the Connect error in its body, or
     * else one inferred from the HTTP status.
     */
    private static function errorFromResponse(string $path, int $status, CallInfo $info, string $body,
                                              ?string $requestId): CatalogException
    {
        $error = $body === '' ? null : json_decode($body, true, 16);
        if (is_array($error) && is_string($error['code'] ?? null) && Code::isValid($error['code'])) {
            $message = is_string($error['message'] ?? null) ? $error['message'] : '';
            $details = is_array($error['details'] ?? null) ? array_values($error['details']) : [];
            return new CatalogException($error['code'], $message, $status, $requestId, $details);
        }
        $excerpt = trim(preg_replace('/[^\x20-\x7e]+/', ' ', substr($body, 0, 200)) ?? '');
        $type = self::mediaType($info->header('content-type'));
        return new CatalogException(Code::fromHttpStatus($status),
            "$path: HTTP $status without a Connect error" . ($type !== '' ? " ($type)" : '')
            . ($excerpt !== '' ? ": $excerpt" : ''),
            $status, $requestId);
    }
}
