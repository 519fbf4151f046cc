-- Plain PostgreSQL: native range partitioning by day; partitions are created ahead and
-- dropped by retention (gridwatch.schema.partitions), rollups maintained by GridWatch.

CREATE TABLE reading (
    ts         timestamptz NOT NULL,
    device_key integer NOT NULL,
    metric_id  smallint NOT NULL,
    seq        bigint NOT NULL,
    value      double precision NOT NULL,
    PRIMARY KEY (device_key, metric_id, ts, seq)
) PARTITION BY RANGE (ts);
-- Late readings older than the oldest partition land here instead of being refused.
CREATE TABLE reading_default PARTITION OF reading DEFAULT;

CREATE TABLE device_event (
    ts         timestamptz NOT NULL,
    device_key integer NOT NULL,
    seq        bigint NOT NULL,
    code       text NOT NULL,
    standard   text,
    state      text NOT NULL DEFAULT 'raised',
    detail     jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (device_key, ts, seq)
) PARTITION BY RANGE (ts);
CREATE TABLE device_event_default PARTITION OF device_event DEFAULT;

CREATE TABLE reading_1m (
    bucket     timestamptz NOT NULL,
    device_key integer NOT NULL,
    metric_id  smallint NOT NULL,
    n          bigint NOT NULL,
    min        double precision NOT NULL,
    max        double precision NOT NULL,
    avg        double precision NOT NULL,
    PRIMARY KEY (device_key, metric_id, bucket)
);

CREATE TABLE rollup_watermark (
    name   text PRIMARY KEY,
    upto   timestamptz NOT NULL
);
