-- Incidents: what the correlator keeps on each alert, the history of every change, the duty
-- roster that escalation walks, and the correlator's place in the signal stream.

ALTER TABLE alert
    -- What the incident is about within its grid and cause: '' for the grid as a whole, a
    -- device key for per-device causes (a faulty or missing sensor is its own ticket).
    ADD COLUMN subject        text NOT NULL DEFAULT '',
    ADD COLUMN community_code text REFERENCES territory (code),
    ADD COLUMN assignee       text,
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN last_signal_at timestamptz,
    ADD COLUMN signals        integer NOT NULL DEFAULT 0,
    ADD COLUMN devices        integer[] NOT NULL DEFAULT '{}',
    ADD COLUMN reopened       smallint NOT NULL DEFAULT 0,
    -- The correlator's own bookkeeping (live conditions, quiet since …), kept so that a
    -- restarted correlator carries on where it stopped.
    ADD COLUMN state          jsonb NOT NULL DEFAULT '{}'::jsonb;
-- One live incident per grid, cause and subject, whatever the number of correlators.
DROP INDEX alert_one_live_per_cause;
CREATE UNIQUE INDEX alert_one_live_per_cause ON alert (grid_code, cause, subject)
    WHERE status <> 'resolved';
CREATE INDEX alert_live_idx ON alert (status) WHERE status <> 'resolved';
CREATE INDEX alert_grid_idx ON alert (grid_code, opened_at DESC);

-- Every change of an incident, in order: its transition_id is the live feed's event id.
ALTER TABLE alert_transition
    ADD COLUMN kind text NOT NULL DEFAULT 'status' CHECK (kind IN
        ('opened', 'status', 'reopened', 'severity', 'evidence', 'escalation', 'comment',
         'assign')),
    ADD COLUMN severity   text,
    ADD COLUMN escalation smallint;

-- The emergency chain of each community: level 0 the grid's worker(s), 1 the community
-- emergency manager, 2 the emergency leadership group.
CREATE TABLE duty_roster (
    community_code text NOT NULL REFERENCES territory (code) ON DELETE CASCADE,
    level          smallint NOT NULL CHECK (level BETWEEN 0 AND 2),
    grid_code      text REFERENCES territory (code) ON DELETE CASCADE,
    name           text NOT NULL,
    contact        text,
    CHECK ((level = 0) = (grid_code IS NOT NULL))
);
CREATE UNIQUE INDEX duty_roster_one_idx
    ON duty_roster (community_code, level, coalesce(grid_code, ''), name);
CREATE INDEX duty_roster_grid_idx ON duty_roster (grid_code) WHERE grid_code IS NOT NULL;

-- How far each correlator has read device_signal.
CREATE TABLE correlator_cursor (
    name      text PRIMARY KEY,
    signal_id bigint NOT NULL
);
