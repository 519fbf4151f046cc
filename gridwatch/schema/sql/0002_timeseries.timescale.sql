-- TimescaleDB: hypertables, a continuous aggregate for 1-minute rollups, and compression and
-- retention policies. Retention/compression ages are filled in from the settings.

CREATE TABLE reading (
    ts         timestamptz NOT NULL,
    device_key integer NOT NULL,
    metric_id  smallint NOT NULL,
    seq        bigint NOT NULL,
    value      double precision NOT NULL,
    PRIMARY KEY (device_key, metric_id, ts, seq)
);
SELECT create_hypertable('reading', 'ts', chunk_time_interval => INTERVAL '1 day');

CREATE TABLE device_event (
    ts         timestamptz NOT NULL,
    device_key integer NOT NULL,
    seq        bigint NOT NULL,
    code       text NOT NULL,
    standard   text,
    state      text NOT NULL DEFAULT 'raised',
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (device_key, ts, seq)
);
SELECT create_hypertable('device_event', 'ts', chunk_time_interval => INTERVAL '7 days');

CREATE MATERIALIZED VIEW reading_1m WITH (timescaledb.continuous) AS
SELECT time_bucket(INTERVAL '1 minute', ts) AS bucket,
       device_key,
       metric_id,
       count(*) AS n,
       min(value) AS min,
       max(value) AS max,
       avg(value) AS avg
FROM reading
GROUP BY bucket, device_key, metric_id
WITH NO DATA;

SELECT add_continuous_aggregate_policy('reading_1m',
    start_offset => INTERVAL '2 hours',
    end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute');

-- Every column of the primary key must be a segment-by or order-by column.
ALTER TABLE reading SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'device_key',
    timescaledb.compress_orderby = 'metric_id, ts DESC, seq'
);
SELECT add_compression_policy('reading', INTERVAL '{compress_after_days} days');
SELECT add_retention_policy('reading', INTERVAL '{retention_days} days');
SELECT add_retention_policy('device_event', INTERVAL '{retention_days} days');
