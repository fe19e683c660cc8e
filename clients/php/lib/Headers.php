<?php
// Catalog\Connect\Headers: checks on request headers supplied by callers.
//
// Contract: check() throws \InvalidArgumentException for a header that could
// not be sent as given (a name that is not an HTTP token, a value with CR, LF
// or NUL, which would let a caller's data inject headers) or that the
// transport owns (Content-Type, Content-Length, Connect-*, Host). It returns
// nothing and has no state. Internal to Catalog\Connect.
declare(strict_types=1);

namespace Catalog\Connect;

final class Headers
{
    /** Set by the transport on every call; a caller may not override them. */
    private const RESERVED = [
        'content-type', 'content-length', 'content-encoding', 'accept-encoding', 'host', 'expect',
        'connect-protocol-version', 'connect-timeout-ms', 'connect-content-encoding',
        'connect-accept-encoding', 'transfer-encoding', 'connection', 'te',
    ];

    private function __construct()
    {
    }

    /**
     * @param array<mixed, mixed> $headers name => value
     */
    public static function check(array $headers): void
    {
        foreach ($headers as $name => $value) {
            if (!is_string($name) || preg_match('/^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$/D', $name) !== 1) {
                throw new \InvalidArgumentException('header name ' . json_encode($name) . ' is not an HTTP token');
            }
            if (!is_string($value) || strpbrk($value, "\r\n\0") !== false) {
                throw new \InvalidArgumentException("header $name: the value must be a string without CR, LF or NUL");
            }
            if (in_array(strtolower($name), self::RESERVED, true)) {
                throw new \InvalidArgumentException("header $name is set by the transport");
            }
        }
    }
}
