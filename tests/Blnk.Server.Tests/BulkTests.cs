using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Numerics;
using System.Text;
using Xunit.Abstractions;
using static Blnk.Server.Tests.Lifecycle;

namespace Blnk.Server.Tests;

// Covers POST /transactions/bulk: batch ids, sequence numbers, synchronous and queued items, validation
// before anything runs, atomic versus stop-at-first-refusal, run_async, inflight batches committed and
// voided by batch id, refunds by batch id, and a 1,000-line batch, on both storages.
public sealed class BulkTests(ServerFixture fixture, ITestOutputHelper output) : IClassFixture<ServerFixture>
{
    private static Dictionary<string, object?> Line(string source, string destination, long preciseAmount,
        string reference) => new()
    {
        ["precise_amount"] = preciseAmount, ["precision"] = 100, ["currency"] = "USD", ["reference"] = reference,
        ["description"] = "bulk line", ["source"] = source, ["destination"] = destination,
    };

    private static int IndexOf(ApiResponse error) =>
        error.Body.GetProperty("error_detail").GetProperty("details").GetProperty("index").GetInt32();

    private static void AssertAccepted(ApiResponse response, string status, int count)
    {
        Assert.True(response.Status == HttpStatusCode.Created, response.Text);
        Assert.StartsWith("bulk_", response.Str("batch_id"), StringComparison.Ordinal);
        Assert.Equal(status, response.Str("status"));
        Assert.Equal(count, response.Body.GetProperty("transaction_count").GetInt32());
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_synchronous_bulk_applies_every_line_under_its_batch_id(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var references = Enumerable.Range(0, 3).Select(i => NewReference($"bulk{i}")).ToList();

        var lines = references.Select((reference, i) => Line(source, destination, 100 * (i + 1), reference)).ToList();
        // The batch's inflight and skip_queue override the line's.
        lines[0]["inflight"] = true;
        lines[0]["skip_queue"] = false;
        lines[1]["meta_data"] = new { note = "kept" };
        var response = await api.PostAsync("transactions/bulk", new { transactions = lines, skip_queue = true });
        AssertAccepted(response, "applied", 3);
        var batchId = response.Str("batch_id");
        Assert.Equal("kept", (await api.GetAsync($"transactions/reference/{references[1]}")).Body
            .GetProperty("meta_data").GetProperty("note").GetString());
        for (var i = 0; i < 3; i++)
        {
            var row = await api.GetAsync($"transactions/reference/{references[i]}");
            Assert.Equal("APPLIED", row.Str("status"));
            Assert.Equal(batchId, row.Str("parent_transaction"));
            Assert.Equal(100 * (i + 1), row.Money("precise_amount"));
            Assert.Equal(i + 1, row.Body.GetProperty("meta_data").GetProperty("sequence").GetInt32());
        }
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 600));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(600, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_queued_bulk_stores_queued_lines_that_are_applied_later(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var references = Enumerable.Range(0, 3).Select(i => NewReference($"qbulk{i}")).ToList();

        var response = await api.PostAsync("transactions/bulk", new
        {
            transactions = references.Select(reference => Line(source, destination, 150, reference)),
        });
        AssertAccepted(response, "applied", 3);
        var batchId = response.Str("batch_id");
        for (var i = 0; i < 3; i++)
        {
            var queued = await api.GetAsync($"transactions/reference/{references[i]}");
            Assert.Equal("QUEUED", queued.Str("status"));
            Assert.Equal(batchId, queued.Str("parent_transaction"));
            var metaData = queued.Body.GetProperty("meta_data");
            Assert.Equal(i + 1, metaData.GetProperty("sequence").GetInt32());
            Assert.Equal(batchId, metaData.GetProperty("QUEUED_PARENT_TRANSACTION").GetString());
            var outcome = await api.OutcomeAsync(references[i], "APPLIED");
            Assert.Equal(queued.Str("transaction_id"), outcome.Str("parent_transaction"));
        }
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 450));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(450, 0));

        // The batch id reaches the APPLIED outcomes of its queued lines.
        var refund = await api.PostAsync($"refund-transaction/{batchId}", new { skip_queue = true });
        Assert.True(refund.Status == HttpStatusCode.Created, refund.Text);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1450, 450));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(450, 450));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_queued_atomic_bulk_with_a_failing_line_rejects_every_line(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var references = Enumerable.Range(0, 3).Select(i => NewReference($"qatomic{i}")).ToList();

        var response = await api.PostAsync("transactions/bulk", new
        {
            transactions = new[]
            {
                Line(source, destination, 400, references[0]), Line(source, destination, 700, references[1]),
                Line(source, destination, 100, references[2]),
            },
            atomic = true,
        });
        AssertAccepted(response, "applied", 3);
        foreach (var reference in references)
        {
            await api.OutcomeAsync(reference, "REJECTED");
        }
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 0));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(0, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_queued_non_atomic_bulk_decides_each_line_on_its_own(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var references = Enumerable.Range(0, 3).Select(i => NewReference($"qlines{i}")).ToList();

        var response = await api.PostAsync("transactions/bulk", new
        {
            transactions = new[]
            {
                Line(source, destination, 400, references[0]), Line(source, destination, 700, references[1]),
                Line(source, destination, 100, references[2]),
            },
        });
        AssertAccepted(response, "applied", 3);
        await api.OutcomeAsync(references[0], "APPLIED");
        await api.OutcomeAsync(references[1], "REJECTED");
        await api.OutcomeAsync(references[2], "APPLIED");
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 500));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(500, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Requests_are_validated_before_anything_runs(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();

        AssertError(await api.PostAsync("transactions/bulk", new { transactions = Array.Empty<object>() }),
            HttpStatusCode.BadRequest, "TXN_BULK_EMPTY", "transactions cannot be empty");
        AssertError(await api.PostAsync("transactions/bulk", new { skip_queue = true }),
            HttpStatusCode.BadRequest, "TXN_BULK_EMPTY", "transactions cannot be empty");
        var tooMany = new StringBuilder("{\"transactions\": [");
        tooMany.AppendJoin(',', Enumerable.Repeat("{}", 10_001)).Append("]}");
        AssertError(await api.PostAsync("transactions/bulk", tooMany.ToString()),
            HttpStatusCode.BadRequest, "TXN_BULK_LIMIT_EXCEEDED", "too many transactions; max is 10000");

        var firstReference = NewReference("valid-first");
        var withNull = await api.PostAsync("transactions/bulk", new
        {
            transactions = new object?[] { Line(source, destination, 100, firstReference), null }, skip_queue = true,
        });
        AssertError(withNull, HttpStatusCode.BadRequest, "TXN_VALIDATION_ERROR", "transactions[1] is required");
        Assert.Equal("transactions[1] is required", withNull.Body.GetProperty("errors").GetString());
        Assert.Equal(1, IndexOf(withNull));

        var invalid = await api.PostAsync("transactions/bulk", new
        {
            transactions = new object[]
            {
                Line(source, destination, 100, firstReference), Line(source, destination, 100, NewReference("ok")),
                new { currency = "USD", precise_amount = 5, reference = "r", description = "d", source },
            },
            skip_queue = true,
        });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.Status);
        Assert.StartsWith("transactions[2]: ", invalid.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("destination: either destination or destinations is required", invalid.ErrorMessage,
            StringComparison.Ordinal);
        Assert.Equal(invalid.ErrorMessage, invalid.Body.GetProperty("errors").GetString());
        Assert.Equal(2, IndexOf(invalid));

        // Nothing ran: the valid first line is not stored.
        await api.AssertNoReferenceAsync(firstReference);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task An_atomic_bulk_with_a_failing_line_applies_nothing(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var references = Enumerable.Range(0, 3).Select(i => NewReference($"atomic{i}")).ToList();

        var response = await api.PostAsync("transactions/bulk", new
        {
            transactions = new[]
            {
                Line(source, destination, 400, references[0]), Line(source, destination, 700, references[1]),
                Line(source, destination, 100, references[2]),
            },
            atomic = true, skip_queue = true,
        });
        AssertError(response, HttpStatusCode.BadRequest, "TXN_INSUFFICIENT_FUNDS",
            $"failed to queue transaction 2 (Reference: {references[1]}, Source: {source}, " +
            $"Destination: {destination}, " +
            "Amount: 7.00): failed to apply transaction to balances: insufficient funds in source balance. " +
            "All transactions in this batch have been rolled back.");
        Assert.StartsWith("bulk_", response.Str("batch_id"), StringComparison.Ordinal);
        foreach (var reference in references)
        {
            await api.AssertNoReferenceAsync(reference);
        }
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 0));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(0, 0));

        // A duplicate reference in an atomic batch is a 409 and rolls back the rest as well.
        var taken = (await api.TransferAsync(source, destination, 1)).Str("reference");
        var fresh = NewReference("atomic-fresh");
        var duplicate = await api.PostAsync("transactions/bulk", new
        {
            transactions = new[] { Line(source, destination, 10, fresh), Line(source, destination, 10, taken) },
            atomic = true, skip_queue = true,
        });
        AssertError(duplicate, HttpStatusCode.Conflict, "TXN_DUPLICATE_REFERENCE");
        Assert.EndsWith("All transactions in this batch have been rolled back.", duplicate.ErrorMessage,
            StringComparison.Ordinal);
        await api.AssertNoReferenceAsync(fresh);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 1));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_non_atomic_bulk_keeps_the_lines_before_the_failing_one(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var references = Enumerable.Range(0, 3).Select(i => NewReference($"partial{i}")).ToList();

        var response = await api.PostAsync("transactions/bulk", new
        {
            transactions = new[]
            {
                Line(source, destination, 400, references[0]), Line(source, destination, 700, references[1]),
                Line(source, destination, 100, references[2]),
            },
            skip_queue = true,
        });
        AssertError(response, HttpStatusCode.BadRequest, "TXN_INSUFFICIENT_FUNDS");
        Assert.StartsWith($"failed to queue transaction 2 (Reference: {references[1]}", response.ErrorMessage,
            StringComparison.Ordinal);
        Assert.EndsWith("Previous transactions were not rolled back.", response.ErrorMessage, StringComparison.Ordinal);
        var batchId = response.Str("batch_id");
        var first = await api.GetAsync($"transactions/reference/{references[0]}");
        Assert.Equal("APPLIED", first.Str("status"));
        Assert.Equal(batchId, first.Str("parent_transaction"));
        await api.AssertNoReferenceAsync(references[1]);
        await api.AssertNoReferenceAsync(references[2]);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1000, 400));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(400, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Run_async_answers_202_and_applies_the_lines_shortly_after(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var references = Enumerable.Range(0, 5).Select(i => NewReference($"async{i}")).ToList();

        var response = await api.PostAsync("transactions/bulk", new
        {
            transactions = references.Select(reference => Line(source, destination, 50, reference)),
            run_async = true, skip_queue = true,
        });
        Assert.True(response.Status == HttpStatusCode.Accepted, response.Text);
        Assert.Equal("Bulk transaction processing started", response.Str("message"));
        Assert.Equal("processing", response.Str("status"));
        var batchId = response.Str("batch_id");
        Assert.StartsWith("bulk_", batchId, StringComparison.Ordinal);
        Assert.False(response.Body.TryGetProperty("transaction_count", out _), response.Text);

        await api.WaitForFiguresAsync(source, BalanceFigures.Of(1000, 250));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(250, 0));
        foreach (var reference in references)
        {
            var row = await api.GetAsync($"transactions/reference/{reference}");
            Assert.Equal("APPLIED", row.Str("status"));
            Assert.Equal(batchId, row.Str("parent_transaction"));
        }
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task An_inflight_bulk_is_committed_and_voided_by_its_batch_id(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(10_000);
        var destination = await api.CreateBalanceAsync();
        async Task<string> InflightBatchAsync(bool skipQueue)
        {
            var references = Enumerable.Range(0, 3).Select(i => NewReference($"inflight-bulk{i}")).ToList();
            var response = await api.PostAsync("transactions/bulk", new
            {
                transactions = references.Select(reference => Line(source, destination, 1000, reference)),
                inflight = true, skip_queue = skipQueue,
            });
            AssertAccepted(response, "inflight", 3);
            foreach (var reference in references)
            {
                if (skipQueue)
                {
                    Assert.Equal("INFLIGHT", (await api.GetAsync($"transactions/reference/{reference}")).Str("status"));
                }
                else
                {
                    await api.OutcomeAsync(reference, "INFLIGHT");
                }
            }
            return response.Str("batch_id");
        }

        var committed = await InflightBatchAsync(skipQueue: true);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(10_000, 0, inflightDebit: 3000));
        var commit = await api.InflightAsync(committed, new { status = "commit", skip_queue = true });
        Assert.True(commit.Status == HttpStatusCode.OK, commit.Text);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(10_000, 3000));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(3000, 0));

        var voided = await InflightBatchAsync(skipQueue: true);
        var voiding = await api.InflightAsync(voided, new { status = "void", skip_queue = true });
        Assert.True(voiding.Status == HttpStatusCode.OK, voiding.Text);
        Assert.Equal("VOID", voiding.Str("status"));
        await api.AssertFiguresAsync(source, BalanceFigures.Of(10_000, 3000));

        // Queued lines: the batch id reaches the INFLIGHT outcomes of its queued lines.
        var queued = await InflightBatchAsync(skipQueue: false);
        await api.AssertFiguresAsync(source, BalanceFigures.Of(10_000, 3000, inflightDebit: 3000));
        var queuedCommit = await api.InflightAsync(queued, new { status = "commit" });
        Assert.True(queuedCommit.Status == HttpStatusCode.OK, queuedCommit.Text);
        Assert.True(queuedCommit.Body.GetProperty("queued").GetBoolean());
        await api.WaitForFiguresAsync(source, BalanceFigures.Of(10_000, 6000));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(6000, 0));
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_bulk_is_refunded_by_its_batch_id(string dialect)
    {
        var api = await fixture.ApiAsync(dialect);
        var source = await api.FundedBalanceAsync(1000);
        var destination = await api.CreateBalanceAsync();
        var references = Enumerable.Range(0, 3).Select(i => NewReference($"refund-bulk{i}")).ToList();
        var response = await api.PostAsync("transactions/bulk", new
        {
            transactions = references.Select((reference, i) => Line(source, destination, 100 + i, reference)),
            skip_queue = true,
        });
        AssertAccepted(response, "applied", 3);
        var batchId = response.Str("batch_id");

        var refund = await api.PostAsync($"refund-transaction/{batchId}", new { skip_queue = true });
        Assert.True(refund.Status == HttpStatusCode.Created, refund.Text);
        var first = await api.GetAsync($"transactions/reference/{references[0]}");
        Assert.Equal(first.Str("transaction_id") + "_refund", refund.Str("reference"));
        foreach (var reference in references)
        {
            var line = await api.GetAsync($"transactions/reference/{reference}");
            var lineRefund = await api.GetAsync($"transactions/reference/{line.Str("transaction_id")}_refund");
            Assert.Equal("APPLIED", lineRefund.Str("status"));
            Assert.Equal(line.Money("precise_amount"), lineRefund.Money("precise_amount"));
        }
        await api.AssertFiguresAsync(source, BalanceFigures.Of(1303, 303));
        await api.AssertFiguresAsync(destination, BalanceFigures.Of(303, 303));
        AssertError(await api.PostAsync($"refund-transaction/{batchId}", new { skip_queue = true }),
            HttpStatusCode.Conflict, "GEN_CONFLICT");
    }

    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task A_thousand_line_bulk_is_stored_exactly(string dialect)
    {
        const int Lines = 1000;
        var api = await fixture.ApiAsync(dialect);
        var sources = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            sources.Add(await api.FundedBalanceAsync(1_000_000));
        }
        var destinations = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            destinations.Add(await api.CreateBalanceAsync());
        }
        var prefix = NewReference("k");
        string ReferenceOf(int i) => $"{prefix}-{i.ToString(CultureInfo.InvariantCulture)}";
        var lines = Enumerable.Range(0, Lines)
            .Select(i => Line(sources[i % 4], destinations[i % 3], 1 + i, ReferenceOf(i))).ToList();

        var stopwatch = Stopwatch.StartNew();
        var response = await api.PostAsync("transactions/bulk",
            new { transactions = lines, skip_queue = true, atomic = true });
        stopwatch.Stop();
        output.WriteLine($"{dialect}: a {Lines}-line atomic skip_queue bulk took {stopwatch.ElapsedMilliseconds} ms");
        AssertAccepted(response, "applied", Lines);
        var batchId = response.Str("batch_id");

        for (var s = 0; s < 4; s++)
        {
            var debit = Enumerable.Range(0, Lines).Where(i => i % 4 == s).Sum(i => (long)(1 + i));
            await api.AssertFiguresAsync(sources[s], BalanceFigures.Of(1_000_000, debit));
        }
        for (var d = 0; d < 3; d++)
        {
            var credit = Enumerable.Range(0, Lines).Where(i => i % 3 == d).Sum(i => (long)(1 + i));
            await api.AssertFiguresAsync(destinations[d], BalanceFigures.Of(credit, 0));
        }
        // Every line is stored once, in order, under the batch: the newest 1,000 rows are exactly the lines.
        var list = await api.GetAsync($"transactions?limit={Lines}");
        var rows = list.Body.EnumerateArray().Reverse().ToList();
        Assert.Equal(Lines, rows.Count);
        var total = BigInteger.Zero;
        for (var i = 0; i < Lines; i++)
        {
            Assert.Equal(ReferenceOf(i), rows[i].GetProperty("reference").GetString());
            Assert.Equal(batchId, rows[i].GetProperty("parent_transaction").GetString());
            Assert.Equal("APPLIED", rows[i].GetProperty("status").GetString());
            Assert.Equal(i + 1, rows[i].GetProperty("meta_data").GetProperty("sequence").GetInt32());
            Assert.Equal(1 + i, Big(rows[i], "precise_amount"));
            total += Big(rows[i], "precise_amount");
        }
        Assert.Equal(Lines * (Lines + 1) / 2, total);
    }
}
