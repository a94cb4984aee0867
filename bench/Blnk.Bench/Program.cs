using System.Globalization;
using System.Text.Json;
using Blnk.Bench;

// Load generator and verifier for the ledger server; bench/run.sh drives it, bench/README.md explains it.
//   Blnk.Bench run    --url URL --storage NAME [--workloads W1,W2,W3,W4,W7,W5,W6] [--duration S] ... --out FILE.json
//   Blnk.Bench prove  --server-dll DLL --storage NAME --data-source DNS --dir DIR [--two-processes] ... --out FILE.json
//   Blnk.Bench report --pgbench-tps TPS --out latest.json --chart-data latest.dat PART.json...
try
{
    return args switch
    {
        ["run", .. var rest] => await RunAsync(Args.Parse(rest)),
        ["prove", .. var rest] => await ProveAsync(Args.Parse(rest)),
        ["report", .. var rest] => Report(Args.Parse(rest)),
        _ => Usage(),
    };
}
catch (ArgumentException exception)
{
    Console.Error.WriteLine($"Blnk.Bench: {exception.Message}");
    return 2;
}

static int Usage()
{
    Console.Error.WriteLine("""
        usage: Blnk.Bench run --url http://127.0.0.1:5001 --storage NAME --out FILE.json
                   [--workloads W1,W2,W3,W4,W7,W5,W6] [--duration 15] [--warmup 3] [--concurrency 256]
                   [--rate 5000 (W5 reads/s)] [--write-rate R (W5; default W2/2)]
                   [--queued 100000 (W6 transfers)] [--queued-rate R (W6; default W2's rate)]
                   [--balances 1000] [--verify-sample 5000] [--server-pid PID] [--pgbench-tps TPS]
                   [--references sequential|uuid|uuid7] [--commits skip_queue|queued (W7)]
               Blnk.Bench prove --server-dll Blnk.Server.dll --storage NAME --data-source DNS --dir DIR --out FILE.json
                   [--two-processes] [--duration 15] [--concurrency 256] [--hot-debits 10000] [--verify-sample 5000]
               Blnk.Bench report --pgbench-tps TPS --out latest.json --chart-data latest.dat [--quick] PART.json...
        """);
    return 2;
}

static async Task<int> RunAsync(Args args)
{
    var url = new Uri(args.String("url", "http://127.0.0.1:5001"));
    var options = new RunOptions(
        Storage: args.String("storage", url.Authority),
        Workloads: args.String("workloads", "W1,W2,W3,W4,W7,W5,W6").ToUpperInvariant()
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        Duration: TimeSpan.FromSeconds(args.Double("duration", 15)),
        Warmup: TimeSpan.FromSeconds(args.Double("warmup", 3)),
        Concurrency: Math.Max(1, args.Int("concurrency", 256)),
        ReadRate: args.Double("rate", 5000),
        WriteRate: args.Optional("write-rate") is null ? null : args.Double("write-rate", 0),
        QueuedCount: (long)args.Double("queued", 100_000),
        QueuedRate: args.Optional("queued-rate") is null ? null : args.Double("queued-rate", 0),
        Balances: Math.Max(2, args.Int("balances", 1000)),
        VerifySample: args.Int("verify-sample", 5000),
        ServerPid: args.Optional("server-pid") is null ? null : args.Int("server-pid", 0),
        References: args.String("references", "sequential") switch
        {
            "sequential" => ReferenceKind.Sequential,
            "uuid" => ReferenceKind.Uuid,
            "uuid7" => ReferenceKind.Uuid7,
            var other => throw new ArgumentException($"--references: '{other}' is not sequential, uuid or uuid7"),
        },
        QueuedCommits: args.String("commits", "skip_queue") switch
        {
            "skip_queue" => false,
            "queued" => true,
            var other => throw new ArgumentException($"--commits: '{other}' is not skip_queue or queued"),
        });
    var referencesName = options.References.ToString().ToLowerInvariant();
    var commitsName = options.QueuedCommits ? "queued" : "skip_queue";
    var output = args.Optional("out");
    var pgbenchTps = args.Double("pgbench-tps", double.NaN);
    if (args.Unread().FirstOrDefault() is { } unknown)
    {
        throw new ArgumentException($"unknown option --{unknown}");
    }

    using var api = new Ledger(url, Math.Max(options.Concurrency, 2048) + 64);
    var health = await api.GetAsync("/health");
    if (health.Status != 200)
    {
        Console.Error.WriteLine($"Blnk.Bench: GET {url}health answered {health.Status}: {health.Text}");
        return 1;
    }
    var loadAverage = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "";
    if (loadAverage.Length > 0)
    {
        Console.WriteLine($"Blnk.Bench: load average before the run: {loadAverage} (other work on the machine moves the numbers)");
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Blnk.Bench: {url} ({options.Storage}), workloads {string.Join(',', options.Workloads)}, {options.Warmup.TotalSeconds:F0} s warm-up + {options.Duration.TotalSeconds:F0} s, {options.Concurrency} in flight, {options.Balances:N0} balances, {referencesName} references, {commitsName} commits, {Environment.ProcessorCount} cores"));
    var started = DateTimeOffset.UtcNow;
    var workloads = new Workloads(api, options);
    foreach (var workload in options.Workloads)
    {
        await workloads.RunAsync(workload);
    }

    Console.WriteLine();
    Console.Write(ResultTable.Render(workloads.Done, pgbenchTps));
    if (output is not null)
    {
        await WriteResultsAsync(output, workloads.Done, json =>
        {
            json.WriteString("storage", options.Storage);
            json.WriteString("url", url.ToString());
            json.WriteString("started_at", started);
            json.WriteString("finished_at", DateTimeOffset.UtcNow);
            json.WriteString("load_average_at_start", loadAverage);
            json.WriteStartObject("options");
            json.WriteNumber("duration_s", options.Duration.TotalSeconds);
            json.WriteNumber("warmup_s", options.Warmup.TotalSeconds);
            json.WriteNumber("concurrency", options.Concurrency);
            json.WriteNumber("read_rate", options.ReadRate);
            json.WriteNumber("queued_count", options.QueuedCount);
            json.WriteNumber("balances", options.Balances);
            json.WriteNumber("verify_sample", options.VerifySample);
            json.WriteString("references", referencesName);
            json.WriteString("commits", commitsName);
            json.WriteEndObject();
        });
    }
    return workloads.Done.All(result => result.Verified) ? 0 : 1;
}

// The proofs of correctness under load (P1–P3, Proofs.cs), on servers this command starts itself.
static async Task<int> ProveAsync(Args args)
{
    var options = new ProofOptions(
        ServerDll: Path.GetFullPath(args.String("server-dll", "src/Blnk.Server/bin/Release/net10.0/Blnk.Server.dll")),
        Storage: args.String("storage", "sqlite"),
        DataSource: args.Optional("data-source") ?? throw new ArgumentException("--data-source is required"),
        Directory: Path.GetFullPath(args.Optional("dir") ?? throw new ArgumentException("--dir is required")),
        TwoProcesses: args.Optional("two-processes") == "true",
        Duration: TimeSpan.FromSeconds(args.Double("duration", 15)),
        Concurrency: Math.Max(1, args.Int("concurrency", 256)),
        HotDebits: Math.Max(2, args.Int("hot-debits", 10_000)),
        VerifySample: args.Int("verify-sample", 5000));
    var output = args.Optional("out");
    if (args.Unread().FirstOrDefault() is { } unknown)
    {
        throw new ArgumentException($"unknown option --{unknown}");
    }
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"Blnk.Bench: proofs on {options.Storage}{(options.TwoProcesses ? ", two server processes" : "")}, {options.Duration.TotalSeconds:F0} s of load each, {options.Concurrency} in flight, {options.HotDebits:N0} hot debits"));
    var started = DateTimeOffset.UtcNow;
    var results = await new Proofs(options).RunAsync();
    Console.WriteLine();
    Console.Write(ResultTable.Render(results, double.NaN));
    if (output is not null)
    {
        await WriteResultsAsync(output, results, json =>
        {
            json.WriteString("storage", options.Storage);
            json.WriteString("started_at", started);
            json.WriteString("finished_at", DateTimeOffset.UtcNow);
            json.WriteStartObject("options");
            json.WriteNumber("duration_s", options.Duration.TotalSeconds);
            json.WriteNumber("concurrency", options.Concurrency);
            json.WriteNumber("hot_debits", options.HotDebits);
            json.WriteBoolean("two_processes", options.TwoProcesses);
            json.WriteEndObject();
        });
    }
    return results.All(result => result.Verified) ? 0 : 1;
}

// One run's JSON: what the header writes about it, then its rows under "workloads".
static async Task WriteResultsAsync(string output, IEnumerable<WorkloadResult> results, Action<Utf8JsonWriter> header)
{
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    await using var file = File.Create(output);
    await using var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true });
    json.WriteStartObject();
    header(json);
    json.WriteStartArray("workloads");
    foreach (var result in results)
    {
        result.Write(json);
    }
    json.WriteEndArray();
    json.WriteEndObject();
}

static int Report(Args args)
{
    var pgbenchTps = args.Double("pgbench-tps", double.NaN);
    var output = args.String("out", "bench/results/latest.json");
    var chartData = args.Optional("chart-data");
    var quick = args.Optional("quick") == "true";
    var pgbenchCommand = args.String("pgbench-command", "");
    if (args.Unread().FirstOrDefault() is { } unknown)
    {
        throw new ArgumentException($"unknown option --{unknown}");
    }
    var rows = new List<WorkloadResult>();
    var runs = new List<JsonDocument>();
    var missing = new List<string>();
    foreach (var part in args.Positional)
    {
        if (!File.Exists(part))
        {
            missing.Add(part);
            continue;
        }
        var document = JsonDocument.Parse(File.ReadAllBytes(part));
        runs.Add(document);
        rows.AddRange(document.RootElement.GetProperty("workloads").EnumerateArray().Select(WorkloadResult.Read));
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"pgbench TPC-B baseline: {pgbenchTps:N0} tps; W2 target (10×): {10 * pgbenchTps:N0}/s{(quick ? "  [--quick: short runs, a smoke check, not a measurement]" : "")}"));
    Console.WriteLine();
    Console.Write(ResultTable.Render(rows, pgbenchTps));
    foreach (var part in missing)
    {
        Console.WriteLine($"missing result: {part} (that run did not finish)");
    }

    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    using (var file = File.Create(output))
    using (var json = new Utf8JsonWriter(file, new JsonWriterOptions { Indented = true }))
    {
        json.WriteStartObject();
        json.WriteString("generated_at", DateTimeOffset.UtcNow);
        json.WriteBoolean("quick", quick);
        json.WriteNumber("cores", Environment.ProcessorCount);
        json.WriteStartObject("pgbench");
        WorkloadResult.WriteNumber(json, "tps", pgbenchTps);
        json.WriteString("command", pgbenchCommand);
        json.WriteEndObject();
        WorkloadResult.WriteNumber(json, "target_w2_per_s", 10 * pgbenchTps);
        json.WriteStartArray("results");
        foreach (var row in rows)
        {
            row.Write(json);
        }
        json.WriteEndArray();
        json.WriteStartArray("goals");
        foreach (var row in rows)
        {
            json.WriteStartObject();
            json.WriteString("workload", row.Workload);
            json.WriteString("storage", row.Storage);
            json.WriteString("goal", ResultTable.Goal(row, rows, pgbenchTps));
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartArray("runs");
        foreach (var run in runs)
        {
            json.WriteStartObject();
            foreach (var property in run.RootElement.EnumerateObject().Where(property => property.Name != "workloads"))
            {
                property.WriteTo(json);
            }
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }
    if (chartData is not null)
    {
        File.WriteAllText(chartData, ResultTable.ChartData(rows));
    }
    runs.ForEach(run => run.Dispose());
    Console.WriteLine($"results: {Path.GetFullPath(output)}");
    return rows.Count > 0 && missing.Count == 0 && rows.All(row => row.Verified) ? 0 : 1;
}
