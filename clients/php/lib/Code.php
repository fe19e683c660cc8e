<?php
// Catalog\Connect\Code: the Connect protocol's error codes and their mappings.
//
// Contract: pure functions over constants, no state, no I/O; safe to use from
// anywhere. The codes are the gRPC status codes, spelled as the Connect
// protocol spells them on the wire ("not_found"); number() gives the gRPC
// number (5), fromHttpStatus() infers a code for an HTTP response that carries
// no Connect error body (a proxy's or the HTTP server's own answer), following
// the Connect specification's table (the same as gRPC's): 400 internal, 401
// unauthenticated, 403 permission_denied, 404 unimplemented, 429, 502, 503
// and 504 unavailable, any other status unknown.
declare(strict_types=1);

namespace Catalog\Connect;

final class Code
{
    public const CANCELED = 'canceled';
    public const UNKNOWN = 'unknown';
    public const INVALID_ARGUMENT = 'invalid_argument';
    public const DEADLINE_EXCEEDED = 'deadline_exceeded';
    public const NOT_FOUND = 'not_found';
    public const ALREADY_EXISTS = 'already_exists';
    public const PERMISSION_DENIED = 'permission_denied';
    public const RESOURCE_EXHAUSTED = 'resource_exhausted';
    public const FAILED_PRECONDITION = 'failed_precondition';
    public const ABORTED = 'aborted';
    public const OUT_OF_RANGE = 'out_of_range';
    public const UNIMPLEMENTED = 'unimplemented';
    public const INTERNAL = 'internal';
    public const UNAVAILABLE = 'unavailable';
    public const DATA_LOSS = 'data_loss';
    public const UNAUTHENTICATED = 'unauthenticated';

    /** Connect code => gRPC status number. */
    private const NUMBERS = [
        self::CANCELED => 1,
        self::UNKNOWN => 2,
        self::INVALID_ARGUMENT => 3,
        self::DEADLINE_EXCEEDED => 4,
        self::NOT_FOUND => 5,
        self::ALREADY_EXISTS => 6,
        self::PERMISSION_DENIED => 7,
        self::RESOURCE_EXHAUSTED => 8,
        self::FAILED_PRECONDITION => 9,
        self::ABORTED => 10,
        self::OUT_OF_RANGE => 11,
        self::UNIMPLEMENTED => 12,
        self::INTERNAL => 13,
        self::UNAVAILABLE => 14,
        self::DATA_LOSS => 15,
        self::UNAUTHENTICATED => 16,
    ];

    private function __construct()
    {
    }

    /** Whether $code is one of the sixteen Connect error codes. */
    public static function isValid(string $code): bool
    {
        return isset(self::NUMBERS[$code]);
    }

    /** The gRPC status number of a Connect code; 2 (unknown) for anything else. */
    public static function number(string $code): int
    {
        return self::NUMBERS[$code] ?? self::NUMBERS[self::UNKNOWN];
    }

    /** The code to assume for a non-200 response without a Connect error body. */
    public static function fromHttpStatus(int $status): string
    {
        switch ($status) {
            case 400:
                return self::INTERNAL;
            case 401:
                return self::UNAUTHENTICATED;
            case 403:
                return self::PERMISSION_DENIED;
            case 404:
                return self::UNIMPLEMENTED;
            case 429:
            case 502:
            case 503:
            case 504:
                return self::UNAVAILABLE;
            default:
                return self::UNKNOWN;
        }
    }
}
