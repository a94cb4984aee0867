using System.Net;
using Blnk.Server;
using Blnk.Server.Configuration;
using Blnk.Server.Errors;
using Blnk.Server.Features;
using Blnk.Server.Features.Balances;
using Blnk.Server.Features.Bulk;
using Blnk.Server.Features.Hooks;
using Blnk.Server.Features.Identities;
using Blnk.Server.Features.Inflight;
using Blnk.Server.Features.Lineage;
using Blnk.Server.Features.Monitors;
using Blnk.Server.Features.Refunds;
using Blnk.Server.Features.Ledgers;
using Blnk.Server.Features.Transactions;
using Blnk.Server.Features.Webhooks;
using Blnk.Server.Http;
using Blnk.Server.Json;
using Blnk.Server.Writer;
using Blnk.Storage;
using Microsoft.AspNetCore.Diagnostics;

BlnkConfiguration configuration;
SqlLedgerStore store;
try
{
    configuration = BlnkConfiguration.Load(Directory.GetCurrentDirectory(), Environment.GetEnvironmentVariables());
    store = LedgerStoreFactory.Create(configuration.DataSourceDns);
}
catch (ConfigurationException exception)
{
    Console.Error.WriteLine($"blnk: invalid configuration: {exception.Message}");
    return 2;
}
catch (ArgumentException exception)
{
    Console.Error.WriteLine($"blnk: invalid configuration: data_source.dns (BLNK_DATA_SOURCE_DNS): {exception.Message}");
    return 2;
}

await store.MigrateAsync(CancellationToken.None);
if (args is ["migrate", ..])
{
    Console.WriteLine($"blnk: migrations applied ({store.Dialect})");
    await store.DisposeAsync();
    return 0;
}

// Configuration is blnk.json and BLNK_* variables, read once (BlnkConfiguration). Left to reload, the host would
// watch its content root and everything below it for an appsettings.json, and so wake for every write to a SQLite
// file kept there (the default ./data, and the benchmark's): 2 % of the server's CPU at SQLite's W2.
var builder = WebApplication.CreateSlimBuilder([.. args, "--hostBuilder:reloadConfigOnChange=false"]);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Limits.MaxRequestBodySize = configuration.MaxRequestBodySizeMb * 1024L * 1024L;
    kestrel.AddServerHeader = false;
    Listen(kestrel, configuration);
});
// Per-request framework logs cost throughput; the server logs what matters itself.
builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
// While this category logs at any level, hosting starts an Activity and a log scope for every request (~0.6 kB
// allocated each time) that nothing here reads. It logs requests starting and finishing (Information) and startup
// errors only when hosting captures them, which it does not here: a failed start still logs and ends the process.
builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
builder.Services.ConfigureHttpJsonOptions(json =>
    json.SerializerOptions.TypeInfoResolverChain.Insert(0, Wire.Context));
builder.Services.AddSingleton<ILedgerStore>(store);
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<IdGenerator>();
builder.Services.AddSingleton<QueueSignal>();
builder.Services.AddSingleton(new WriterOptions(configuration.WriterBatchSize, configuration.WriterQueueSize,
    store.Dialect == "sqlite" ? 1 : configuration.WriterLoops, configuration.RememberedBalances));
builder.Services.AddSingleton(configuration);
builder.Services.AddSingleton<MonitorRegistry>();
builder.Services.AddHostedService(services => services.GetRequiredService<MonitorRegistry>());
builder.Services.AddSingleton<HookRegistry>();
builder.Services.AddHostedService(services => services.GetRequiredService<HookRegistry>());
builder.Services.AddSingleton<BalanceReader>();
builder.Services.AddHostedService(services => services.GetRequiredService<BalanceReader>());
builder.Services.AddSingleton<FamilyReader>();
builder.Services.AddHostedService(services => services.GetRequiredService<FamilyReader>());
builder.Services.AddSingleton<EventOutbox>();
builder.Services.AddHostedService<WebhookDispatcher>();
builder.Services.AddSingleton<WriterMetrics>();
builder.Services.AddSingleton<LedgerWriter>();
builder.Services.AddHostedService(services => services.GetRequiredService<LedgerWriter>());
builder.Services.AddHostedService<QueueProcessor>();
builder.Services.AddSingleton<LineagePlanner>();
builder.Services.AddHostedService<LineageProcessor>();
builder.Services.AddSingleton<IndicatorBalances>();
builder.Services.AddSingleton<TransactionService>();
builder.Services.AddSingleton<InflightService>();
builder.Services.AddSingleton<RefundService>();
builder.Services.AddSingleton<BulkService>();

var app = builder.Build();
LogStartup(app, configuration, store);
app.UseExceptionHandler(errors => errors.Run(context =>
{
    var exception = context.Features.Get<IExceptionHandlerFeature>()?.Error;
    var error = exception switch
    {
        BadHttpRequestException { StatusCode: 413 } => new ApiError(ErrorCodes.PayloadTooLarge, "request body too large"),
        not null when store.IsAtCapacity(exception) => new ApiError(ErrorCodes.QueueBackpressure,
            "the database is at capacity and turned this request away; retry shortly"),
        _ => ApiError.Internal(),
    };
    return new ErrorResult(error).ExecuteAsync(context);
}));
app.UseSecurityHeaders();
app.UseMasterKey(configuration);
app.MapSystemEndpoints();
app.MapLedgerEndpoints();
app.MapBalanceEndpoints();
app.MapTransactionEndpoints();
app.MapInflightEndpoints();
app.MapRefundEndpoints();
app.MapBulkEndpoints();
app.MapHistoryAndMetadataEndpoints();
app.MapIdentityEndpoints();
app.MapMonitorEndpoints();
app.MapHookEndpoints();
app.MapLineageEndpoints();
app.MapFallback(() => Results.Text("404 page not found", "text/plain", statusCode: 404));
await app.RunAsync();
await store.DisposeAsync();
return 0;

static void Listen(Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions kestrel, BlnkConfiguration configuration)
{
    if (configuration.HostIsLocalhost || (configuration.Host is null && !configuration.Secure))
    {
        kestrel.ListenLocalhost(configuration.Port);
    }
    else
    {
        kestrel.Listen(configuration.Host ?? IPAddress.IPv6Any, configuration.Port);
    }
}

static void LogStartup(WebApplication app, BlnkConfiguration configuration, ILedgerStore store)
{
    var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Blnk.Server");
    logger.LogInformation("Storage: {Dialect}; listening on port {Port}", store.Dialect, configuration.Port);
    if (!configuration.Secure)
    {
        logger.LogWarning("server.secure is false: authentication is off. Listening on {Where} only",
            configuration.Host?.ToString() ?? "loopback (127.0.0.1 and ::1)");
    }
    foreach (var key in configuration.IgnoredKeys)
    {
        logger.LogInformation("Configuration key {Key} is ignored: this server needs no Redis or Typesense", key);
    }
}
