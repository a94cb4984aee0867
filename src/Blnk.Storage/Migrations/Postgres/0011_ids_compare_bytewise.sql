-- Ids, references and the other text keys compare byte by byte (collation "C"), whatever the database's own
-- collation. Our ids are ASCII (a prefix and a UUID) and references are opaque: no order between them means
-- anything to a person, but a database created with a language's collation (en_US.UTF-8, the default of most
-- managed and packaged clusters) compared every key in every index entry through that language's rules. On such a
-- database W4 (bulk) ran ~28 % slower and W2 ~13 % slower than on a "C" one (docs/performance.md, 2026-11-28).
-- Equality is the same under both, so no stored key changes meaning; only ties in list order (created_at, then id)
-- may come out in another order. SQLite compares text bytewise already.
-- Each column below is in an index or a foreign key. Changing a collation rewrites no table, but it rebuilds the
-- column's indexes and re-checks the foreign keys on it, holding each table meanwhile (one transaction per
-- migration): on a large ledger, plan the upgrade for a quiet moment.
ALTER TABLE ledgers ALTER COLUMN ledger_id TYPE TEXT COLLATE "C";
ALTER TABLE identities ALTER COLUMN identity_id TYPE TEXT COLLATE "C";
ALTER TABLE balances
    ALTER COLUMN balance_id TYPE TEXT COLLATE "C",
    ALTER COLUMN ledger_id TYPE TEXT COLLATE "C",
    ALTER COLUMN identity_id TYPE TEXT COLLATE "C",
    ALTER COLUMN indicator TYPE TEXT COLLATE "C",
    ALTER COLUMN currency TYPE TEXT COLLATE "C";
ALTER TABLE transactions
    ALTER COLUMN transaction_id TYPE TEXT COLLATE "C",
    ALTER COLUMN parent_transaction TYPE TEXT COLLATE "C",
    ALTER COLUMN source TYPE TEXT COLLATE "C",
    ALTER COLUMN destination TYPE TEXT COLLATE "C",
    ALTER COLUMN reference TYPE TEXT COLLATE "C";
ALTER TABLE transaction_queue
    ALTER COLUMN transaction_id TYPE TEXT COLLATE "C",
    ALTER COLUMN group_id TYPE TEXT COLLATE "C";
ALTER TABLE inflight_actions
    ALTER COLUMN action_id TYPE TEXT COLLATE "C",
    ALTER COLUMN transaction_id TYPE TEXT COLLATE "C",
    ALTER COLUMN origin TYPE TEXT COLLATE "C";
ALTER TABLE balance_snapshots
    ALTER COLUMN balance_id TYPE TEXT COLLATE "C",
    ALTER COLUMN ledger_id TYPE TEXT COLLATE "C",
    ALTER COLUMN snapshot_date TYPE TEXT COLLATE "C";
ALTER TABLE webhook_outbox
    ALTER COLUMN target TYPE TEXT COLLATE "C",
    ALTER COLUMN entity_key TYPE TEXT COLLATE "C";
ALTER TABLE balance_monitors
    ALTER COLUMN monitor_id TYPE TEXT COLLATE "C",
    ALTER COLUMN balance_id TYPE TEXT COLLATE "C";
ALTER TABLE hooks ALTER COLUMN hook_id TYPE TEXT COLLATE "C";
ALTER TABLE lineage_mappings
    ALTER COLUMN balance_id TYPE TEXT COLLATE "C",
    ALTER COLUMN provider TYPE TEXT COLLATE "C",
    ALTER COLUMN shadow_balance_id TYPE TEXT COLLATE "C",
    ALTER COLUMN aggregate_balance_id TYPE TEXT COLLATE "C",
    ALTER COLUMN identity_id TYPE TEXT COLLATE "C";
ALTER TABLE lineage_outbox
    ALTER COLUMN transaction_id TYPE TEXT COLLATE "C",
    ALTER COLUMN source_identity_id TYPE TEXT COLLATE "C",
    ALTER COLUMN destination_identity_id TYPE TEXT COLLATE "C";
