-- Device signals: what the detectors concluded, one row per condition raised or cleared.
-- A signal's scope is one device, one gateway (most of its devices silent) or one grid (most
-- of its devices silent); the correlator turns signals into alerts.
CREATE TABLE device_signal (
    signal_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL,             -- when the condition was observed
    detected_at    timestamptz NOT NULL DEFAULT now(),
    scope          text NOT NULL CHECK (scope IN ('device', 'gateway', 'grid')),
    device_key     integer,
    gateway_id     text,
    grid_code      text NOT NULL,
    microgrid_code text,
    source         text NOT NULL CHECK (source IN ('event', 'telemetry', 'silence')),
    kind           text NOT NULL,
    severity       text NOT NULL CHECK (severity IN
                     ('informational', 'low', 'medium', 'high', 'critical')),
    state          text NOT NULL DEFAULT 'raised' CHECK (state IN ('raised', 'cleared')),
    metric_id      smallint,
    value          double precision,
    score          real,
    code           text,
    detail         jsonb NOT NULL DEFAULT '{}'::jsonb,
    CHECK (scope <> 'device' OR device_key IS NOT NULL),
    CHECK (scope <> 'gateway' OR gateway_id IS NOT NULL)
);
CREATE INDEX device_signal_at_idx ON device_signal (at);
CREATE INDEX device_signal_grid_idx ON device_signal (grid_code, at);
CREATE INDEX device_signal_device_idx ON device_signal (device_key, at) WHERE device_key IS NOT NULL;
