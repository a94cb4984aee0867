// Drives our server with Blnk's official TypeScript SDK, exactly as its users do.
// Usage: node sdk-smoke.mjs <baseUrl>      (e.g. http://127.0.0.1:5001)
// Prints each step; exits 1 with a clear message on the first failed check, 0 when all pass.
import { randomUUID } from 'node:crypto';
import { BlnkInit } from '@blnkfinance/blnk-typescript';

const baseUrl = process.argv[2];
if (!baseUrl) {
  console.error('usage: node sdk-smoke.mjs <baseUrl>');
  process.exit(2);
}

// The SDK's default logger prints to the console; keep its lines but mark them.
const logger = {
  info: (message, ...meta) => console.log(`  [sdk] INFO ${message}`, ...meta),
  error: (message, ...meta) => console.log(`  [sdk] ERROR ${message}`, ...meta),
  debug: () => {},
};

const show = value => JSON.stringify(value);

function fail(message) {
  console.error(`FAIL: ${message}`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) {
    fail(message);
  }
}

function step(title) {
  console.log(`--- ${title}`);
}

/** Checks an SDK response: the HTTP status and a non-null body. */
function expectStatus(response, status, what) {
  check(response && typeof response === 'object', `${what}: the SDK returned ${show(response)}`);
  check(
    response.status === status,
    `${what}: expected HTTP ${status}, got ${response.status} (${response.message}); body ${show(response.data)}` +
      (response.error ? `; error ${show(response.error)}` : ''),
  );
  check(response.data !== null && response.data !== undefined, `${what}: HTTP ${status} with an empty body`);
  console.log(`  ${what}: HTTP ${response.status} ${show(response.data)}`);
  return response.data;
}

function expectField(object, field, expected, what) {
  check(
    object[field] === expected,
    `${what}: expected ${field} = ${show(expected)}, got ${show(object[field])} in ${show(object)}`,
  );
}

function expectPrefixedId(object, field, prefix, what) {
  check(
    typeof object[field] === 'string' && object[field].startsWith(prefix),
    `${what}: expected ${field} to be a string starting with ${show(prefix)}, got ${show(object[field])}`,
  );
}

const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

const blnk = await BlnkInit('', { baseUrl, logger });
const { System, Ledgers, LedgerBalances, Transactions } = blnk;
const run = randomUUID();
const ref = `sdk_smoke_${run}`;

step('System.health');
const health = expectStatus(await System.health(), 200, 'health');
expectField(health, 'status', 'UP', 'health');

step('Ledgers.create + get');
const ledgerName = `SDK smoke ${run}`;
const ledger = expectStatus(
  await Ledgers.create({ name: ledgerName, meta_data: { project_owner: 'sdk-smoke' } }),
  201,
  'Ledgers.create',
);
expectPrefixedId(ledger, 'ledger_id', 'ldg_', 'Ledgers.create');
expectField(ledger, 'name', ledgerName, 'Ledgers.create');
const ledgerAgain = expectStatus(await Ledgers.get(ledger.ledger_id), 200, 'Ledgers.get');
expectField(ledgerAgain, 'ledger_id', ledger.ledger_id, 'Ledgers.get');
expectField(ledgerAgain, 'name', ledgerName, 'Ledgers.get');
check(
  ledgerAgain.meta_data && ledgerAgain.meta_data.project_owner === 'sdk-smoke',
  `Ledgers.get: meta_data not returned as sent: ${show(ledgerAgain.meta_data)}`,
);

step('LedgerBalances.create x2 (USD) + get');
const balanceA = expectStatus(
  await LedgerBalances.create({ ledger_id: ledger.ledger_id, currency: 'USD', meta_data: { name: 'A' } }),
  201,
  'LedgerBalances.create A',
);
expectPrefixedId(balanceA, 'balance_id', 'bln_', 'LedgerBalances.create A');
expectField(balanceA, 'ledger_id', ledger.ledger_id, 'LedgerBalances.create A');
expectField(balanceA, 'currency', 'USD', 'LedgerBalances.create A');
expectField(balanceA, 'balance', 0, 'LedgerBalances.create A');
const balanceB = expectStatus(
  await LedgerBalances.create({ ledger_id: ledger.ledger_id, currency: 'USD', meta_data: { name: 'B' } }),
  201,
  'LedgerBalances.create B',
);
expectPrefixedId(balanceB, 'balance_id', 'bln_', 'LedgerBalances.create B');
check(balanceA.balance_id !== balanceB.balance_id, 'LedgerBalances.create: A and B got the same balance_id');
const balanceAGot = expectStatus(await LedgerBalances.get(balanceA.balance_id), 200, 'LedgerBalances.get A');
expectField(balanceAGot, 'balance_id', balanceA.balance_id, 'LedgerBalances.get A');
expectField(balanceAGot, 'currency', 'USD', 'LedgerBalances.get A');
expectField(balanceAGot, 'balance', 0, 'LedgerBalances.get A');

step('Transactions.create skip_queue: @World -> A, 100.5 USD (precision 100)');
const fund = expectStatus(
  await Transactions.create({
    amount: 100.5,
    precision: 100,
    reference: `${ref}_fund`,
    description: 'fund A from @World',
    currency: 'USD',
    source: '@World',
    destination: balanceA.balance_id,
    allow_overdraft: true,
    skip_queue: true,
    meta_data: { step: 'fund' },
  }),
  201,
  'Transactions.create fund',
);
expectPrefixedId(fund, 'transaction_id', 'txn_', 'Transactions.create fund');
expectField(fund, 'status', 'APPLIED', 'Transactions.create fund');
expectField(fund, 'reference', `${ref}_fund`, 'Transactions.create fund');
expectField(fund, 'amount', 100.5, 'Transactions.create fund');
check(
  String(fund.precise_amount) === '10050',
  `Transactions.create fund: expected precise_amount 10050, got ${show(fund.precise_amount)}`,
);
expectField(fund, 'destination', balanceA.balance_id, 'Transactions.create fund');

step('Transactions.create skip_queue: A -> B, 30.25 USD');
const move = expectStatus(
  await Transactions.create({
    amount: 30.25,
    precision: 100,
    reference: ref,
    description: 'A to B',
    currency: 'USD',
    source: balanceA.balance_id,
    destination: balanceB.balance_id,
    skip_queue: true,
  }),
  201,
  'Transactions.create A->B',
);
expectPrefixedId(move, 'transaction_id', 'txn_', 'Transactions.create A->B');
expectField(move, 'status', 'APPLIED', 'Transactions.create A->B');
expectField(move, 'source', balanceA.balance_id, 'Transactions.create A->B');
expectField(move, 'destination', balanceB.balance_id, 'Transactions.create A->B');

step('Transactions.get + getByReference');
const moveById = expectStatus(await Transactions.get(move.transaction_id), 200, 'Transactions.get');
expectField(moveById, 'transaction_id', move.transaction_id, 'Transactions.get');
expectField(moveById, 'reference', ref, 'Transactions.get');
expectField(moveById, 'status', 'APPLIED', 'Transactions.get');
const moveByRef = expectStatus(await Transactions.getByReference(ref), 200, 'Transactions.getByReference');
expectField(moveByRef, 'transaction_id', move.transaction_id, 'Transactions.getByReference');
expectField(moveByRef, 'reference', ref, 'Transactions.getByReference');

step('Transactions.create queued: A -> B, 10 USD, then poll getByReference(reference + "_q") until APPLIED');
// Blnk records a queued transaction's outcome as a child transaction whose reference is the queued one's + "_q".
const queuedRef = `${ref}_queued`;
const queued = expectStatus(
  await Transactions.create({
    amount: 10,
    precision: 100,
    reference: queuedRef,
    description: 'A to B through the queue',
    currency: 'USD',
    source: balanceA.balance_id,
    destination: balanceB.balance_id,
  }),
  201,
  'Transactions.create queued',
);
expectPrefixedId(queued, 'transaction_id', 'txn_', 'Transactions.create queued');
expectField(queued, 'status', 'QUEUED', 'Transactions.create queued');
expectField(queued, 'reference', queuedRef, 'Transactions.create queued');
const deadline = Date.now() + 10_000;
let applied = null;
for (;;) {
  const response = await Transactions.getByReference(`${queuedRef}_q`);
  if (response.status === 200 && response.data && response.data.status === 'APPLIED') {
    applied = response.data;
    console.log(`  getByReference(${queuedRef}_q): HTTP 200 ${show(applied)}`);
    break;
  }
  check(
    response.status === 200 || response.status === 404,
    `Transactions.getByReference(${queuedRef}_q): unexpected HTTP ${response.status} ${show(response.data)}`,
  );
  check(
    !(response.data && ['REJECTED', 'VOID'].includes(response.data.status)),
    `Transactions.getByReference(${queuedRef}_q): the queued transaction ended ${show(response.data)}`,
  );
  if (Date.now() > deadline) {
    fail(
      `Transactions.getByReference(${queuedRef}_q): not APPLIED within 10 s; ` +
        `last answer HTTP ${response.status} ${show(response.data)}`,
    );
  }
  await sleep(200);
}
expectField(applied, 'parent_transaction', queued.transaction_id, 'Transactions.getByReference queued child');
check(
  String(applied.precise_amount) === '1000',
  `Transactions.getByReference queued child: expected precise_amount 1000, got ${show(applied.precise_amount)}`,
);

step('LedgerBalances.get: exact balances after 100.50 in, 30.25 and 10.00 moved A -> B');
const finalA = expectStatus(await LedgerBalances.get(balanceA.balance_id), 200, 'LedgerBalances.get A');
const finalB = expectStatus(await LedgerBalances.get(balanceB.balance_id), 200, 'LedgerBalances.get B');
expectField(finalA, 'balance', 10050 - 3025 - 1000, 'LedgerBalances.get A');
expectField(finalA, 'credit_balance', 10050, 'LedgerBalances.get A');
expectField(finalA, 'debit_balance', 3025 + 1000, 'LedgerBalances.get A');
expectField(finalB, 'balance', 3025 + 1000, 'LedgerBalances.get B');
expectField(finalB, 'credit_balance', 3025 + 1000, 'LedgerBalances.get B');
expectField(finalB, 'debit_balance', 0, 'LedgerBalances.get B');

step('error: Transactions.create with a reference already used -> 409 TXN_DUPLICATE_REFERENCE');
const duplicate = await Transactions.create({
  amount: 1,
  precision: 100,
  reference: ref,
  description: 'duplicate reference',
  currency: 'USD',
  source: balanceA.balance_id,
  destination: balanceB.balance_id,
  skip_queue: true,
});
console.log(`  duplicate: HTTP ${duplicate.status} ${show(duplicate.data)} error ${show(duplicate.error)}`);
check(
  duplicate.status === 409,
  `duplicate reference: expected HTTP 409, got ${duplicate.status} (${duplicate.message}) ${show(duplicate.data)}`,
);
check(
  duplicate.error && duplicate.error.code === 'TXN_DUPLICATE_REFERENCE',
  `duplicate reference: expected error code TXN_DUPLICATE_REFERENCE, got ${show(duplicate.error)} ` +
    `from body ${show(duplicate.data)}`,
);
const afterDuplicate = expectStatus(await LedgerBalances.get(balanceA.balance_id), 200, 'LedgerBalances.get A');
expectField(afterDuplicate, 'balance', 10050 - 3025 - 1000, 'LedgerBalances.get A after the duplicate');


// ---------------------------------------------------------------------------------------------------------------
// The transaction lifecycle: bulk inflight holds, commit (partial) and void, bulk commit and void, refunds, and a
// balance as it was at a past instant.

/** Checks exact minor units (the JSON numbers here are far below 2^53). */
function expectMoney(object, field, expected, what) {
  check(
    String(object[field]) === String(expected),
    `${what}: expected ${field} = ${expected}, got ${show(object[field])} in ${show(object)}`,
  );
}

function expectFigures(balance, figures, what) {
  const { credit, debit, inflightDebit = 0, inflightCredit = 0 } = figures;
  expectMoney(balance, 'balance', credit - debit, what);
  expectMoney(balance, 'credit_balance', credit, what);
  expectMoney(balance, 'debit_balance', debit, what);
  expectMoney(balance, 'inflight_debit_balance', inflightDebit, what);
  expectMoney(balance, 'inflight_credit_balance', inflightCredit, what);
}

async function figuresOf(balanceId, figures, what) {
  const balance = expectStatus(await LedgerBalances.get(balanceId), 200, `LedgerBalances.get ${what}`);
  expectFigures(balance, figures, what);
  return balance;
}

step('LedgerBalances.create C + D; Transactions.create skip_queue: @World -> C, 500 USD');
const balanceC = expectStatus(
  await LedgerBalances.create({ ledger_id: ledger.ledger_id, currency: 'USD', meta_data: { name: 'C' } }),
  201,
  'LedgerBalances.create C',
);
const balanceD = expectStatus(
  await LedgerBalances.create({ ledger_id: ledger.ledger_id, currency: 'USD', meta_data: { name: 'D' } }),
  201,
  'LedgerBalances.create D',
);
const C = balanceC.balance_id;
const D = balanceD.balance_id;
expectStatus(
  await Transactions.create({
    amount: 500,
    precision: 100,
    reference: `${ref}_fund_c`,
    description: 'fund C from @World',
    currency: 'USD',
    source: '@World',
    destination: C,
    allow_overdraft: true,
    skip_queue: true,
  }),
  201,
  'Transactions.create fund C',
);
await figuresOf(C, { credit: 50000, debit: 0 }, 'C after funding');
// An instant after the funding and before anything else touches C (for LedgerBalances.getAt below).
await sleep(20);
const beforeLifecycle = new Date().toISOString();
await sleep(20);

step('Transactions.createBulk inflight + skip_queue + atomic: three holds C -> D (100, 50, 25 USD)');
const bulkLine = (n, amount) => ({
  amount,
  precision: 100,
  reference: `${ref}_bulk_${n}`,
  description: `bulk hold ${n}`,
  currency: 'USD',
  source: C,
  destination: D,
});
const bulk = expectStatus(
  await Transactions.createBulk({
    inflight: true,
    skip_queue: true,
    atomic: true,
    transactions: [bulkLine(1, 100), bulkLine(2, 50), bulkLine(3, 25)],
  }),
  201,
  'Transactions.createBulk',
);
expectPrefixedId(bulk, 'batch_id', 'bulk_', 'Transactions.createBulk');
expectField(bulk, 'status', 'inflight', 'Transactions.createBulk');
expectField(bulk, 'transaction_count', 3, 'Transactions.createBulk');
const holds = [];
for (const n of [1, 2, 3]) {
  const hold = expectStatus(
    await Transactions.getByReference(`${ref}_bulk_${n}`),
    200,
    `Transactions.getByReference bulk ${n}`,
  );
  expectField(hold, 'status', 'INFLIGHT', `bulk hold ${n}`);
  expectField(hold, 'parent_transaction', bulk.batch_id, `bulk hold ${n}`);
  check(
    hold.meta_data && hold.meta_data.sequence === n,
    `bulk hold ${n}: expected meta_data.sequence ${n}, got ${show(hold.meta_data)}`,
  );
  holds.push(hold.transaction_id);
}
await figuresOf(C, { credit: 50000, debit: 0, inflightDebit: 17500 }, 'C after the holds');
await figuresOf(D, { credit: 0, debit: 0, inflightCredit: 17500 }, 'D after the holds');

step('Transactions.updateStatus: commit 40 of hold 1 (skip_queue), then void the rest');
const partial = expectStatus(
  await Transactions.updateStatus(holds[0], { status: 'commit', amount: 40, skip_queue: true }),
  200,
  'Transactions.updateStatus commit 40',
);
expectField(partial, 'status', 'APPLIED', 'updateStatus commit');
expectField(partial, 'parent_transaction', holds[0], 'updateStatus commit');
expectMoney(partial, 'precise_amount', 4000, 'updateStatus commit');
const voided = expectStatus(
  await Transactions.updateStatus(holds[0], { status: 'void', skip_queue: true }),
  200,
  'Transactions.updateStatus void',
);
expectField(voided, 'status', 'VOID', 'updateStatus void');
expectField(voided, 'parent_transaction', holds[0], 'updateStatus void');
expectMoney(voided, 'precise_amount', 6000, 'updateStatus void');
const voidAgain = await Transactions.updateStatus(holds[0], { status: 'void', skip_queue: true });
console.log(`  void again: HTTP ${voidAgain.status} ${show(voidAgain.data)}`);
check(voidAgain.status === 409, `void again: expected HTTP 409, got ${voidAgain.status} ${show(voidAgain.data)}`);
await figuresOf(C, { credit: 50000, debit: 4000, inflightDebit: 7500 }, 'C after commit + void');

step('Transactions.bulkCommitInflight: hold 2 in full, 10 of hold 3');
const bulkCommit = expectStatus(
  await Transactions.bulkCommitInflight({
    transactions: [{ transaction_id: holds[1] }, { transaction_id: holds[2], amount: 10 }],
    skip_queue: true,
  }),
  200,
  'Transactions.bulkCommitInflight',
);
expectField(bulkCommit, 'succeeded', 2, 'bulkCommitInflight');
expectField(bulkCommit, 'failed', 0, 'bulkCommitInflight');
check(
  bulkCommit.results.every(result => result.status === 'succeeded'),
  `bulkCommitInflight: expected every result succeeded, got ${show(bulkCommit.results)}`,
);
await figuresOf(C, { credit: 50000, debit: 10000, inflightDebit: 1500 }, 'C after the bulk commit');

step('Transactions.bulkVoidInflight: the rest of hold 3, and hold 1 (already voided)');
const bulkVoid = expectStatus(
  await Transactions.bulkVoidInflight({ transaction_ids: [holds[2], holds[0]], skip_queue: true }),
  200,
  'Transactions.bulkVoidInflight',
);
expectField(bulkVoid, 'succeeded', 1, 'bulkVoidInflight');
expectField(bulkVoid, 'failed', 1, 'bulkVoidInflight');
expectField(bulkVoid.results[0], 'status', 'succeeded', 'bulkVoidInflight result 0');
expectField(bulkVoid.results[1], 'status', 'failed', 'bulkVoidInflight result 1');
expectField(bulkVoid.results[1], 'code', 'ALREADY_VOIDED', 'bulkVoidInflight result 1');
await figuresOf(C, { credit: 50000, debit: 10000 }, 'C after the bulk void');
await figuresOf(D, { credit: 10000, debit: 0 }, 'D after the bulk void');

step('Transactions.refund (skip_queue) of hold 2: its committed 50 USD go back D -> C; a second refund is 409');
const refund = expectStatus(
  await Transactions.refund(holds[1], { skip_queue: true }),
  201,
  'Transactions.refund',
);
expectField(refund, 'status', 'APPLIED', 'Transactions.refund');
expectField(refund, 'source', D, 'Transactions.refund');
expectField(refund, 'destination', C, 'Transactions.refund');
expectMoney(refund, 'precise_amount', 5000, 'Transactions.refund');
check(
  typeof refund.reference === 'string' && refund.reference === `${refund.parent_transaction}_refund`,
  `Transactions.refund: expected reference "<refunded id>_refund", got ${show(refund.reference)}`,
);
const refundByRef = expectStatus(
  await Transactions.getByReference(refund.reference),
  200,
  'Transactions.getByReference refund',
);
expectField(refundByRef, 'transaction_id', refund.transaction_id, 'Transactions.getByReference refund');
const refundAgain = await Transactions.refund(holds[1], { skip_queue: true });
console.log(`  refund again: HTTP ${refundAgain.status} ${show(refundAgain.data)}`);
check(
  refundAgain.status === 409,
  `refund again: expected HTTP 409, got ${refundAgain.status} ${show(refundAgain.data)}`,
);
await figuresOf(C, { credit: 55000, debit: 10000 }, 'C after the refund');
await figuresOf(D, { credit: 10000, debit: 5000 }, 'D after the refund');

step('LedgerBalances.getAt: C before the lifecycle steps, and now');
const cBefore = expectStatus(
  await LedgerBalances.getAt(C, { timestamp: beforeLifecycle }),
  200,
  'LedgerBalances.getAt before',
);
check(cBefore.balance, `LedgerBalances.getAt before: no balance object in ${show(cBefore)}`);
expectMoney(cBefore.balance, 'balance', 50000, 'LedgerBalances.getAt before');
expectMoney(cBefore.balance, 'debit_balance', 0, 'LedgerBalances.getAt before');
const cNow = expectStatus(
  await LedgerBalances.getAt(C, { timestamp: new Date(Date.now() + 1000).toISOString() }),
  200,
  'LedgerBalances.getAt now',
);
expectMoney(cNow.balance, 'balance', 45000, 'LedgerBalances.getAt now');
expectMoney(cNow.balance, 'credit_balance', 55000, 'LedgerBalances.getAt now');
expectMoney(cNow.balance, 'debit_balance', 10000, 'LedgerBalances.getAt now');

step('Identity.create + get + update + list, LedgerBalances.updateIdentity, Identity.delete');
const { Identity } = blnk;
const identity = expectStatus(
  await Identity.create({
    identity_type: 'individual',
    first_name: 'Ada',
    last_name: 'Lovelace',
    gender: 'female',
    dob: new Date('1815-12-10T00:00:00Z'),
    email_address: 'ada@example.com',
    meta_data: { source: 'sdk-smoke' },
  }),
  201,
  'Identity.create',
);
expectPrefixedId(identity, 'identity_id', 'idt_', 'Identity.create');
expectField(identity, 'dob', '1815-12-10T00:00:00Z', 'Identity.create');
const identityAgain = expectStatus(await Identity.get(identity.identity_id), 200, 'Identity.get');
expectField(identityAgain, 'email_address', 'ada@example.com', 'Identity.get');
const identityUpdated = expectStatus(
  await Identity.update(identity.identity_id, { identity_type: 'individual', last_name: 'King' }),
  200,
  'Identity.update',
);
expectField(identityUpdated, 'message', 'Identity updated successfully', 'Identity.update');
const identityAfter = expectStatus(await Identity.get(identity.identity_id), 200, 'Identity.get after update');
expectField(identityAfter, 'last_name', 'King', 'Identity.get after update');
expectField(identityAfter, 'first_name', 'Ada', 'Identity.get after update');
const identities = expectStatus(await Identity.list(), 200, 'Identity.list');
check(
  Array.isArray(identities) && identities.some(listed => listed.identity_id === identity.identity_id),
  `Identity.list: ${identity.identity_id} not in ${show(identities)}`,
);
const linkedBalance = expectStatus(
  await LedgerBalances.updateIdentity(balanceA.balance_id, { identity_id: identity.identity_id }),
  200,
  'LedgerBalances.updateIdentity',
);
expectField(linkedBalance, 'message', 'Balance identity updated successfully', 'LedgerBalances.updateIdentity');
const balanceALinked = expectStatus(await LedgerBalances.get(balanceA.balance_id), 200, 'LedgerBalances.get linked');
expectField(balanceALinked, 'identity_id', identity.identity_id, 'LedgerBalances.get linked');
const refusedDelete = await Identity.delete(identity.identity_id);
console.log(`  Identity.delete while linked: HTTP ${refusedDelete.status} ${show(refusedDelete.data)}`);
check(
  refusedDelete.status === 409,
  `Identity.delete while linked: expected HTTP 409, got ${refusedDelete.status} ${show(refusedDelete.data)}`,
);
const spare = expectStatus(await Identity.create({ identity_type: 'organization' }), 201, 'Identity.create spare');
const spareDeleted = expectStatus(await Identity.delete(spare.identity_id), 200, 'Identity.delete');
expectField(spareDeleted, 'message', 'Identity deleted successfully', 'Identity.delete');

// ---------------------------------------------------------------------------------------------------------------
// Balance monitors and transaction hooks (hooks are master-key only; without secure mode they work as for it).

const { BalanceMonitor, Hooks } = blnk;

/** Checks an SDK error response: the HTTP status and error_detail.code. */
function expectError(response, status, code, what) {
  console.log(`  ${what}: HTTP ${response.status} ${show(response.data)}`);
  check(response.status === status, `${what}: expected HTTP ${status}, got ${response.status} ${show(response.data)}`);
  check(
    response.error && response.error.code === code,
    `${what}: expected error code ${code}, got ${show(response.error)} from body ${show(response.data)}`,
  );
}

step('BalanceMonitor.create + get + list: balance of C below 10.50 USD');
const monitor = expectStatus(
  await BalanceMonitor.create({
    balance_id: C,
    condition: { field: 'balance', operator: '<', value: 10.5, precision: 100 },
    description: 'C runs low',
  }),
  201,
  'BalanceMonitor.create',
);
expectPrefixedId(monitor, 'monitor_id', 'mon_', 'BalanceMonitor.create');
expectField(monitor, 'balance_id', C, 'BalanceMonitor.create');
expectMoney(monitor.condition, 'precise_value', 1050, 'BalanceMonitor.create');
const monitorGot = expectStatus(await BalanceMonitor.get(monitor.monitor_id), 200, 'BalanceMonitor.get');
expectField(monitorGot, 'description', 'C runs low', 'BalanceMonitor.get');
expectField(monitorGot, 'created_at', monitor.created_at, 'BalanceMonitor.get');
const monitors = expectStatus(await BalanceMonitor.list(), 200, 'BalanceMonitor.list');
check(
  Array.isArray(monitors) && monitors.some(listed => listed.monitor_id === monitor.monitor_id),
  `BalanceMonitor.list: ${monitor.monitor_id} missing from ${show(monitors)}`,
);

step('BalanceMonitor.update (value 0 is allowed, precise_value recomputed) + delete');
const monitorUpdated = expectStatus(
  await BalanceMonitor.update(monitor.monitor_id, {
    balance_id: C,
    condition: { field: 'balance', operator: '>=', value: 0, precision: 100 },
    description: 'C is not negative',
  }),
  200,
  'BalanceMonitor.update',
);
expectField(monitorUpdated, 'message', 'BalanceMonitor updated successfully', 'BalanceMonitor.update');
const monitorAfterUpdate = expectStatus(await BalanceMonitor.get(monitor.monitor_id), 200, 'BalanceMonitor.get');
expectField(monitorAfterUpdate.condition, 'operator', '>=', 'BalanceMonitor.get after update');
expectMoney(monitorAfterUpdate.condition, 'precise_value', 0, 'BalanceMonitor.get after update');
expectField(monitorAfterUpdate, 'created_at', monitor.created_at, 'BalanceMonitor.get after update');
const monitorDeleted = expectStatus(await BalanceMonitor.delete(monitor.monitor_id), 200, 'BalanceMonitor.delete');
expectField(monitorDeleted, 'message', 'BalanceMonitor deleted successfully', 'BalanceMonitor.delete');
expectError(await BalanceMonitor.get(monitor.monitor_id), 404, 'BAL_MONITOR_NOT_FOUND', 'BalanceMonitor.get deleted');

step('Hooks.create + get + list by type');
// An inactive hook on the discard port: registered, never called.
const hook = expectStatus(
  await Hooks.create({
    name: 'sdk smoke',
    url: 'http://127.0.0.1:9/hook',
    type: 'POST_TRANSACTION',
    active: false,
    timeout: 5,
    retry_count: 2,
  }),
  201,
  'Hooks.create',
);
expectPrefixedId(hook, 'id', 'hook_', 'Hooks.create');
expectField(hook, 'type', 'POST_TRANSACTION', 'Hooks.create');
expectField(hook, 'timeout', 5, 'Hooks.create');
expectField(hook, 'retry_count', 2, 'Hooks.create');
expectField(hook, 'last_run', '0001-01-01T00:00:00Z', 'Hooks.create');
const hookGot = expectStatus(await Hooks.get(hook.id), 200, 'Hooks.get');
expectField(hookGot, 'name', 'sdk smoke', 'Hooks.get');
const postHooks = expectStatus(await Hooks.list({ type: 'POST_TRANSACTION' }), 200, 'Hooks.list POST');
check(postHooks.some(listed => listed.id === hook.id), `Hooks.list POST: ${hook.id} missing from ${show(postHooks)}`);
const preHooks = expectStatus(await Hooks.list({ type: 'PRE_TRANSACTION' }), 200, 'Hooks.list PRE');
check(!preHooks.some(listed => listed.id === hook.id), `Hooks.list PRE: ${hook.id} listed in ${show(preHooks)}`);

step('Hooks.update (retry_count capped at 10) + delete');
const hookUpdated = expectStatus(
  await Hooks.update(hook.id, {
    name: 'sdk smoke pre',
    url: 'http://127.0.0.1:9/hook',
    type: 'PRE_TRANSACTION',
    active: false,
    timeout: 10,
    retry_count: 50,
  }),
  200,
  'Hooks.update',
);
expectField(hookUpdated, 'id', hook.id, 'Hooks.update');
expectField(hookUpdated, 'type', 'PRE_TRANSACTION', 'Hooks.update');
expectField(hookUpdated, 'retry_count', 10, 'Hooks.update');
expectField(hookUpdated, 'created_at', hook.created_at, 'Hooks.update');
const hookDeleted = expectStatus(await Hooks.delete(hook.id), 200, 'Hooks.delete');
expectField(hookDeleted, 'message', 'hook deleted successfully', 'Hooks.delete');
expectError(await Hooks.get(hook.id), 404, 'HOOK_NOT_FOUND', 'Hooks.get deleted');

console.log('SDK smoke: all checks passed');
