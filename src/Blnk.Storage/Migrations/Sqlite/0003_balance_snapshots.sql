-- Daily copies of balances (POST /balances-snapshots); historical balances start from the latest one.
-- last_tx_seq is the highest transactions.seq the copy covers: every APPLIED row of the balance with a
-- seq at or below it is in the copy, every later one is not, so historical reads stay exact.
CREATE TABLE balance_snapshots (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    balance_id              TEXT NOT NULL REFERENCES balances (balance_id),
    ledger_id               TEXT NOT NULL REFERENCES ledgers (ledger_id),
    balance                 TEXT NOT NULL,
    credit_balance          TEXT NOT NULL,
    debit_balance           TEXT NOT NULL,
    inflight_balance        TEXT NOT NULL,
    inflight_credit_balance TEXT NOT NULL,
    inflight_debit_balance  TEXT NOT NULL,
    currency                TEXT NOT NULL,
    snapshot_time           INTEGER NOT NULL,
    -- The UTC calendar day of snapshot_time (yyyy-mm-dd): one snapshot per balance per day.
    snapshot_date           TEXT NOT NULL,
    created_at              INTEGER NOT NULL,
    last_tx_id              TEXT,
    last_tx_seq             INTEGER NOT NULL,
    meta_data               TEXT
);
CREATE UNIQUE INDEX balance_snapshots_balance_date_key ON balance_snapshots (balance_id, snapshot_date);
CREATE INDEX balance_snapshots_balance_time_idx ON balance_snapshots (balance_id, snapshot_time);
CREATE INDEX balance_snapshots_time_idx ON balance_snapshots (snapshot_time);
CREATE INDEX balance_snapshots_ledger_time_idx ON balance_snapshots (ledger_id, snapshot_time);

-- A snapshot is a record of the past: only meta_data may change.
CREATE TRIGGER balance_snapshots_immutable BEFORE UPDATE OF id, balance_id, ledger_id, balance, credit_balance,
    debit_balance, inflight_balance, inflight_credit_balance, inflight_debit_balance, currency, snapshot_time,
    snapshot_date, created_at, last_tx_id, last_tx_seq ON balance_snapshots
BEGIN
    SELECT RAISE(ABORT, 'Cannot modify snapshot data. Only meta_data can be updated.');
END;
