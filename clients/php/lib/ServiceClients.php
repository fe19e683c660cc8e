<?php
// Catalog\Connect\ServiceClients: what the typed clients share.
//
// Contract: transport() returns the given transport (refusing options beside
// it, which it could not apply) or a new one for a target URL and options;
// \InvalidArgumentException otherwise. No state. Internal to Catalog\Connect.
declare(strict_types=1);

namespace Catalog\Connect;

final class ServiceClients
{
    private function __construct()
    {
    }

    public static function transport(ConnectTransport|string $target, ?ConnectOptions $options): ConnectTransport
    {
        if ($target instanceof ConnectTransport) {
            if ($options !== null) {
                throw new \InvalidArgumentException('options go to the ConnectTransport, not beside it');
            }
            return $target;
        }
        return new ConnectTransport($target, $options);
    }
}
