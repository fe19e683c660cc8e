<?php
// Catalog\Connect\CatalogException: the one exception a catalog call throws.
//
// Contract: every failed call of ConnectTransport (and so of CatalogV1Client
// and CatalogV2Client) throws exactly this type, whatever went wrong:
//   - the server's error (a non-200 response): connectCode() is the code of
//     its Connect error body ("not_found", "invalid_argument", ...) and
//     getMessage() its message verbatim (invalid_argument names the field,
//     e.g. 'ids[1]: "not ok" is not a valid id (...)'); a non-200 answer with
//     no Connect body (a proxy, the HTTP layer) gets the code the Connect
//     specification infers from the HTTP status (Code::fromHttpStatus);
//   - no answer: connection refused or reset, DNS failure => "unavailable";
//     the deadline passed before the answer arrived => "deadline_exceeded";
//     httpStatus() is 0 then;
//   - an answer that is not the expected response (wrong content type, a body
//     that does not decode, larger than the client's limit) => "internal"
//     ("resource_exhausted" for the size limit).
// getCode() is the gRPC status number of connectCode() (not_found => 5), so
// code written against the gRPC stubs' status codes keeps working.
// requestId() is the request id the server returned (its x-request-id
// trailer), else the one the caller sent, else null: quote it when logging.
// Instances are immutable values.
declare(strict_types=1);

namespace Catalog\Connect;

final class CatalogException extends \RuntimeException
{
    private string $connectCode;
    private int $httpStatus;
    private ?string $requestId;
    /** @var array<int, mixed> */
    private array $details;

    /**
     * @param string $connectCode one of Code's constants
     * @param array<int, mixed> $details the Connect error body's "details", as decoded JSON
     */
    public function __construct(
        string $connectCode,
        string $message,
        int $httpStatus = 0,
        ?string $requestId = null,
        array $details = [],
        ?\Throwable $previous = null
    ) {
        $code = Code::isValid($connectCode) ? $connectCode : Code::UNKNOWN;
        parent::__construct($message, Code::number($code), $previous);
        $this->connectCode = $code;
        $this->httpStatus = $httpStatus;
        $this->requestId = $requestId;
        $this->details = $details;
    }

    /** The Connect error code, e.g. "not_found" (see Code). */
    public function connectCode(): string
    {
        return $this->connectCode;
    }

    /** The HTTP status of the answer; 0 when there was none. */
    public function httpStatus(): int
    {
        return $this->httpStatus;
    }

    /** The call's request id (the server's, else the caller's), or null. */
    public function requestId(): ?string
    {
        return $this->requestId;
    }

    /** @return array<int, mixed> the Connect error details, undecoded ({"type","value"} objects). */
    public function details(): array
    {
        return $this->details;
    }

    /** "not_found: product \"x\" not found (HTTP 404, request id ...)", for logs. */
    public function describe(): string
    {
        $context = [];
        if ($this->httpStatus !== 0) {
            $context[] = 'HTTP ' . $this->httpStatus;
        }
        if ($this->requestId !== null) {
            $context[] = 'request id ' . $this->requestId;
        }
        return $this->connectCode . ': ' . $this->getMessage() . ($context ? ' (' . implode(', ', $context) . ')' : '');
    }
}
