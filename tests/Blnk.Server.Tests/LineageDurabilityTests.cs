using System.Globalization;
using System.Numerics;
using System.Text.Json;
using Blnk.TestSupport;

namespace Blnk.Server.Tests;

// Covers fund lineage across a SIGKILL under load: every transfer on a tracked balance that was written has
// its lineage work (captured in the same database transaction), and after the restart every piece of work
// takes effect exactly once — each debit's fund allocation is the one FIFO gives when the log is replayed in
// order, and the lineage numbers match that replay. Each test owns its server.
public sealed class LineageDurabilityTests
{
    [Theory]
    [MemberData(nameof(ServerFixture.Dialects), MemberType = typeof(ServerFixture))]
    public async Task Lineage_takes_effect_exactly_once_across_a_sigkill(string dialect)
    {
        var dataSource = await ServerFixture.NewDataSourceAsync(dialect);
        await using var server = await ServerProcess.StartAsync(dataSource);
        var client = new LineageClient(new Api(server.Client), dataSource);
        var alice = await client.TrackedBalanceAsync(await client.IdentityAsync("Alice", "Smith"), "FIFO");
        var bob = await client.TrackedBalanceAsync(await client.IdentityAsync("Bob", "Jones"), "FIFO");
        var shop = await client.Api.CreateBalanceAsync();
        string[] providers = ["stripe", "paypal", "wise"];

        var acknowledged = await SigkillLoad.RunAsync(server, TimeSpan.FromMilliseconds(1000), (random, reference) =>
        {
            var skipQueue = random.Next(2) == 0;
            var amount = random.Next(1, 400);
            var body = random.Next(5) switch
            {
                0 or 1 => LineageClient.Body("@World", alice, amount, providers[random.Next(3)], skipQueue, false,
                    reference),
                2 => LineageClient.Body("@World", alice, amount, null, skipQueue, false, reference),
                3 => LineageClient.Body(alice, bob, amount, null, skipQueue, false, reference),
                _ => LineageClient.Body(bob, shop, amount, null, skipQueue, false, reference),
            };
            return client.Api.PostAsync("transactions", body);
        });
        Assert.NotEmpty(acknowledged);
        await server.RestartAsync();
        // An identity's lineage runs one row at a time (docs/lineage.md): a second of load on two identities
        // is some thousand rows, after the queue entries the dead process had leased are due again (30 s).
        await client.DrainAsync(TimeSpan.FromMinutes(2));

        var world = await client.IndicatorBalanceIdAsync("@World");
        var replay = new LineageReplay(world, alice, bob, shop);
        var applied = await AppliedRowsAsync(client, [alice, bob]);
        applied.ForEach(replay.Apply);

        // Every tagged credit and every debit of a tracked balance has its lineage work: none was lost.
        Assert.Equal(replay.WorkCount, await client.CountAsync("SELECT COUNT(*) FROM lineage_outbox"));
        Assert.True(replay.Debits.Count > 0, "the load made no debit of a tracked balance");
        foreach (var (row, expected) in replay.Debits)
        {
            var actual = AllocationOf(row);
            Assert.True(expected == actual, $"{row.Reference}: expected {expected}, got {actual}");
        }
        Assert.Equal(LineageReplay.Lines(replay.Alice), await client.ProvidersAsync(alice));
        Assert.Equal(LineageReplay.Lines(replay.Bob), await client.ProvidersAsync(bob));
        await client.AssertMoneyConservedAsync();
    }

    private static string AllocationOf(LogRow row) =>
        row.MetaData.ValueKind == JsonValueKind.Object
        && row.MetaData.TryGetProperty("BLNK_FUND_ALLOCATION", out var allocation)
            ? LineageClient.Allocation(allocation)
            : "-";

    /// <summary>The APPLIED rows touching the tracked balances, in log order, read from the database.</summary>
    private static async Task<List<LogRow>> AppliedRowsAsync(LineageClient client, string[] tracked)
    {
        await using var connection = await TestStores.OpenRawConnectionAsync(client.DataSource);
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT transaction_id, reference, source, destination, CAST(precise_amount AS TEXT), " +
            "CAST(meta_data AS TEXT) FROM transactions WHERE status = 'APPLIED' AND " +
            $"(source IN ('{tracked[0]}', '{tracked[1]}') OR destination IN ('{tracked[0]}', '{tracked[1]}')) " +
            "ORDER BY seq";
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<LogRow>();
        while (await reader.ReadAsync())
        {
            rows.Add(new LogRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                BigInteger.Parse(reader.GetString(4), CultureInfo.InvariantCulture),
                reader.IsDBNull(5) ? default : JsonDocument.Parse(reader.GetString(5)).RootElement.Clone()));
        }
        return rows;
    }

    private sealed record LogRow(string TransactionId, string Reference, string Source, string Destination,
        BigInteger Amount, JsonElement MetaData);

    /// <summary>
    /// An independent model of FIFO lineage: what each provider has received and still has per tracked balance,
    /// in the order the providers first reached it, replayed over the log.
    /// </summary>
    private sealed class LineageReplay(string world, string alice, string bob, string shop)
    {
        public List<(string Provider, BigInteger Received, BigInteger Available)> Alice { get; } = [];
        public List<(string Provider, BigInteger Received, BigInteger Available)> Bob { get; } = [];
        public List<(LogRow Row, string Allocation)> Debits { get; } = [];
        public int WorkCount { get; private set; }

        public void Apply(LogRow row)
        {
            if (row.Source == world && row.Destination == alice)
            {
                if (row.MetaData.ValueKind == JsonValueKind.Object
                    && row.MetaData.TryGetProperty("BLNK_LINEAGE_PROVIDER", out var provider))
                {
                    Receive(Alice, provider.GetString()!, row.Amount);
                    WorkCount++;
                }
            }
            else if ((row.Source, row.Destination) == (alice, bob) || (row.Source, row.Destination) == (bob, shop))
            {
                var shares = Allocate(row.Source == alice ? Alice : Bob, row.Amount);
                if (row.Source == alice)
                {
                    shares.ForEach(share => Receive(Bob, share.Provider, share.Amount));
                }
                var text = string.Join(' ', shares.Select(share => $"{share.Provider}:{share.Amount}"));
                Debits.Add((row, shares.Count == 0 ? "-" : text));
                WorkCount++;
            }
        }

        public static List<ProviderLine> Lines(
            List<(string Provider, BigInteger Received, BigInteger Available)> lines) =>
            [.. lines.Select(line => new ProviderLine(line.Provider, line.Received, line.Available,
                line.Received - line.Available))];

        private static void Receive(List<(string Provider, BigInteger Received, BigInteger Available)> lines,
            string provider, BigInteger amount)
        {
            var index = lines.FindIndex(line => line.Provider == provider);
            if (index < 0)
            {
                lines.Add((provider, amount, amount));
            }
            else
            {
                lines[index] = (provider, lines[index].Received + amount, lines[index].Available + amount);
            }
        }

        private static List<(string Provider, BigInteger Amount)> Allocate(
            List<(string Provider, BigInteger Received, BigInteger Available)> lines, BigInteger amount)
        {
            var shares = new List<(string Provider, BigInteger Amount)>();
            for (var i = 0; i < lines.Count && amount > 0; i++)
            {
                var share = BigInteger.Min(amount, lines[i].Available);
                if (share > 0)
                {
                    shares.Add((lines[i].Provider, share));
                    lines[i] = (lines[i].Provider, lines[i].Received, lines[i].Available - share);
                    amount -= share;
                }
            }
            return shares;
        }
    }
}
