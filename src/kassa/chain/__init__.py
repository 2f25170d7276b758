"""The EVM chain monitor: which chains and tokens kassa watches (config), exact token units
(units), JSON-RPC nodes with health checks and failover (rpc, nodes), and the scanner that
reads Transfer logs by block range into durable transfer records, counts confirmations and
notices re-orgs (scanner, monitor). Never imports payins: sessions read the transfers."""
