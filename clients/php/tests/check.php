<?php
// Assertion helpers for the PHP client's test scripts (no PHPUnit).
//
// Contract: each check prints one line, "ok: NAME" or "FAIL: NAME: why", and
// counts it; a check that fails does not stop the script (a test script stops
// itself when later checks depend on the failed one). checks_done() prints the
// totals and exits 0 only if at least one check ran and none failed.
// Global state: the two counters below; single-threaded scripts only.
declare(strict_types=1);

use Catalog\Connect\CatalogException;

$GLOBALS['checks_passed'] = 0;
$GLOBALS['checks_failed'] = 0;

function check(string $name, bool $condition, string $why = ''): bool
{
    if ($condition) {
        $GLOBALS['checks_passed']++;
        echo "ok: $name\n";
    } else {
        $GLOBALS['checks_failed']++;
        echo "FAIL: $name" . ($why !== '' ? ": $why" : '') . "\n";
    }
    return $condition;
}

/** Strict equality, with both sides shown on failure. */
function check_eq(string $name, mixed $expected, mixed $actual): bool
{
    return check($name, $expected === $actual,
        'expected ' . var_export($expected, true) . ', got ' . var_export($actual, true));
}

/**
 * Runs $call, which must throw a CatalogException with $code (and, when
 * given, the HTTP status and exact message). Returns the exception, or null.
 */
function check_throws(string $name, callable $call, string $code, ?int $httpStatus = null,
                      ?string $message = null): ?CatalogException
{
    try {
        $call();
    } catch (CatalogException $e) {
        $problems = [];
        if ($e->connectCode() !== $code) {
            $problems[] = "code {$e->connectCode()}, not $code";
        }
        if ($httpStatus !== null && $e->httpStatus() !== $httpStatus) {
            $problems[] = "HTTP {$e->httpStatus()}, not $httpStatus";
        }
        if ($message !== null && $e->getMessage() !== $message) {
            $problems[] = 'message ' . var_export($e->getMessage(), true) . ', not ' . var_export($message, true);
        }
        check($name, $problems === [], implode('; ', $problems) . ' (' . $e->describe() . ')');
        return $e;
    } catch (\Throwable $e) {
        check($name, false, 'threw ' . get_class($e) . ': ' . $e->getMessage());
        return null;
    }
    check($name, false, "no exception, expected $code");
    return null;
}

/**
 * Runs $call, which must not throw; a throw is a failed check named $name.
 * Returns the call's result, or null after a throw.
 */
function no_throw(string $name, callable $call): mixed
{
    try {
        return $call();
    } catch (CatalogException $e) {
        check($name, false, 'threw ' . $e->describe());
    } catch (\Throwable $e) {
        check($name, false, 'threw ' . get_class($e) . ': ' . $e->getMessage() . ' at ' . $e->getFile() . ':' . $e->getLine());
    }
    return null;
}

function checks_done(): never
{
    $passed = $GLOBALS['checks_passed'];
    $failed = $GLOBALS['checks_failed'];
    echo "checks: $passed passed, $failed failed\n";
    exit($failed === 0 && $passed > 0 ? 0 : 1);
}
