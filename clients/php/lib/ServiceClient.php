<?php
// Catalog\Connect\ServiceClient: what the typed clients share — the
// transport they call through, made from ($target, $options) or the one
// given (then $options must be null: it could not apply them;
// \InvalidArgumentException), and the last call's information. Internal to
// Catalog\Connect.
declare(strict_types=1);

namespace Catalog\Connect;

trait ServiceClient
{
    private ConnectTransport $transport;

    public function __construct(ConnectTransport|string $target, ?ConnectOptions $options = null)
    {
        if ($target instanceof ConnectTransport) {
            if ($options !== null) {
                throw new \InvalidArgumentException('options go to the ConnectTransport, not beside it');
            }
            $this->transport = $target;
        } else {
            $this->transport = new ConnectTransport($target, $options);
        }
    }

    public function transport(): ConnectTransport
    {
        return $this->transport;
    }

    /** What the last call of this client's transport learnt (request id, trailers, connection reuse). */
    public function lastCall(): ?CallInfo
    {
        return $this->transport->lastCall();
    }
}
