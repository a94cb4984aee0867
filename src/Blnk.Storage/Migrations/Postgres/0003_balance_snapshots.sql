-- Daily copies of balances (POST /balances-snapshots); historical balances start from the latest one.
-- last_tx_seq is the highest transactions.seq the copy covers: every APPLIED row of the balance with a
-- seq at or below it is in the copy, every later one is not, so historical reads stay exact.
CREATE TABLE balance_snapshots (
    id                      BIGSERIAL PRIMARY KEY,
    balance_id              TEXT NOT NULL REFERENCES balances (balance_id),
    ledger_id               TEXT NOT NULL REFERENCES ledgers (ledger_id),
    balance                 NUMERIC NOT NULL,
    credit_balance          NUMERIC NOT NULL,
    debit_balance           NUMERIC NOT NULL,
    inflight_balance        NUMERIC NOT NULL,
    inflight_credit_balance NUMERIC NOT NULL,
    inflight_debit_balance  NUMERIC NOT NULL,
    currency                TEXT NOT NULL,
    snapshot_time           TIMESTAMPTZ NOT NULL,
    -- The UTC calendar day of snapshot_time (yyyy-mm-dd): one snapshot per balance per day.
    snapshot_date           TEXT NOT NULL,
    created_at              TIMESTAMPTZ NOT NULL,
    last_tx_id              TEXT,
    last_tx_seq             BIGINT NOT NULL,
    meta_data               JSONB,
    CONSTRAINT balance_snapshots_balance_check CHECK (balance = credit_balance - debit_balance),
    CONSTRAINT balance_snapshots_inflight_check
        CHECK (inflight_balance = inflight_credit_balance - inflight_debit_balance)
);
CREATE UNIQUE INDEX balance_snapshots_balance_date_key ON balance_snapshots (balance_id, snapshot_date);
CREATE INDEX balance_snapshots_balance_time_idx ON balance_snapshots (balance_id, snapshot_time);
CREATE INDEX balance_snapshots_time_idx ON balance_snapshots (snapshot_time);
CREATE INDEX balance_snapshots_ledger_time_idx ON balance_snapshots (ledger_id, snapshot_time);

-- A snapshot is a record of the past: only meta_data may change.
CREATE FUNCTION balance_snapshots_immutable() RETURNS trigger AS $$
BEGIN
    IF (NEW.id, NEW.balance_id, NEW.ledger_id, NEW.balance, NEW.credit_balance, NEW.debit_balance,
        NEW.inflight_balance, NEW.inflight_credit_balance, NEW.inflight_debit_balance, NEW.currency,
        NEW.snapshot_time, NEW.snapshot_date, NEW.created_at, NEW.last_tx_id, NEW.last_tx_seq)
       IS DISTINCT FROM
       (OLD.id, OLD.balance_id, OLD.ledger_id, OLD.balance, OLD.credit_balance, OLD.debit_balance,
        OLD.inflight_balance, OLD.inflight_credit_balance, OLD.inflight_debit_balance, OLD.currency,
        OLD.snapshot_time, OLD.snapshot_date, OLD.created_at, OLD.last_tx_id, OLD.last_tx_seq) THEN
        RAISE EXCEPTION 'Cannot modify snapshot data. Only meta_data can be updated.';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER balance_snapshots_immutable BEFORE UPDATE ON balance_snapshots
    FOR EACH ROW EXECUTE FUNCTION balance_snapshots_immutable();
