<?php
// GENERATED CODE -- DO NOT EDIT!

// Original file comments:
// catalog.admin.v1: operator RPCs, called by catalog-admin. Not for frontends.
namespace Catalog\Admin\V1;

/**
 */
class CatalogAdminServiceClient extends \Grpc\BaseStub {

    /**
     * @param string $hostname hostname
     * @param array $opts channel options
     * @param \Grpc\Channel $channel (optional) re-use channel object
     */
    public function __construct($hostname, $opts, $channel = null) {
        parent::__construct($hostname, $opts, $channel);
    }

    /**
     * Moves records idle in Redis for at least idle_seconds into the MySQL cold
     * tier (write MySQL first, then compare-and-delete in Redis), delete
     * tombstones included, in statements that fit MySQL's max_allowed_packet.
     * Safe at any idle time (0 moves everything); negative idle_seconds is
     * INVALID_ARGUMENT. Cancelling the call, or stopping the server, ends it
     * between batches with CANCELLED.
     * @param \Catalog\Admin\V1\DemoteRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function Demote(\Catalog\Admin\V1\DemoteRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.admin.v1.CatalogAdminService/Demote',
        $argument,
        ['\Catalog\Admin\V1\DemoteResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * The server's metrics in Prometheus text exposition format.
     * @param \Catalog\Admin\V1\GetMetricsRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function GetMetrics(\Catalog\Admin\V1\GetMetricsRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.admin.v1.CatalogAdminService/GetMetrics',
        $argument,
        ['\Catalog\Admin\V1\GetMetricsResponse', 'decode'],
        $metadata, $options);
    }

    /**
     * Sets one log channel's level while the server runs (channel "*": every
     * channel), until the next change or a restart; with channel and level
     * both empty, changes nothing. Answers every channel's level after it.
     * An unknown channel or level is INVALID_ARGUMENT naming the valid ones.
     * @param \Catalog\Admin\V1\SetLogLevelRequest $argument input argument
     * @param array $metadata metadata
     * @param array $options call options
     * @return \Grpc\UnaryCall
     */
    public function SetLogLevel(\Catalog\Admin\V1\SetLogLevelRequest $argument,
      $metadata = [], $options = []) {
        return $this->_simpleRequest('/catalog.admin.v1.CatalogAdminService/SetLogLevel',
        $argument,
        ['\Catalog\Admin\V1\SetLogLevelResponse', 'decode'],
        $metadata, $options);
    }

}
