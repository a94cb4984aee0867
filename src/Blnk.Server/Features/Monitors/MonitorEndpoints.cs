using Blnk.Core.Monitors;
using Blnk.Server.Errors;
using Blnk.Server.Http;
using Blnk.Server.Json;
using Blnk.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Blnk.Server.Features.Monitors;

/// <summary><c>/balance-monitors</c>: create, get, list, list by balance, update, delete (contract §4.4).</summary>
/// <remarks>
/// Every change is followed by <see cref="ReloadingRegistry.RefreshAfterChangeAsync"/>, so the writer evaluates the new
/// set from the next batch on in this process; other processes see it within their reload interval.
/// </remarks>
public static class MonitorEndpoints
{
    public static void MapMonitorEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/balance-monitors", CreateAsync).WithName("Monitors_Create");
        routes.MapGet("/balance-monitors/{id}", GetAsync).WithName("Monitors_Get");
        routes.MapGet("/balance-monitors", ListAsync).WithName("Monitors_List");
        routes.MapGet("/balance-monitors/balances/{balanceId}", ListByBalanceAsync)
            .WithName("Monitors_ListByBalance");
        routes.MapPut("/balance-monitors/{id}", UpdateAsync).WithName("Monitors_Update");
        routes.MapDelete("/balance-monitors/{id}", DeleteAsync).WithName("Monitors_Delete");
    }

    private static async Task<IResult> CreateAsync(HttpContext context, ILedgerStore store, IdGenerator ids,
        TimeProvider clock, MonitorRegistry registry)
    {
        var (valid, error) = await ReadAsync(context, pluralLegacyKey: true);
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        var monitor = new BalanceMonitor
        {
            MonitorId = ids.New(IdGenerator.MonitorPrefix),
            BalanceId = valid!.BalanceId,
            Condition = valid.Condition,
            Description = valid.Description,
            CallBackUrl = valid.CallBackUrl,
            Trigger = valid.Trigger,
            CreatedAt = Clock.Now(clock),
        };
        if (!await store.InsertMonitorAsync(monitor, context.RequestAborted))
        {
            return InvalidBalance();
        }
        await registry.RefreshAfterChangeAsync();
        return TypedResults.Json(monitor.ToWire(), Wire.Monitors.MonitorResponse, statusCode: 201);
    }

    private static async Task<IResult> GetAsync(string id, ILedgerStore store, CancellationToken cancellationToken)
    {
        var monitor = await store.GetMonitorAsync(id, cancellationToken);
        return monitor is null
            ? NotFound(id)
            : TypedResults.Json(monitor.ToWire(), Wire.Monitors.MonitorResponse);
    }

    private static async Task<IResult> ListAsync(ILedgerStore store, CancellationToken cancellationToken) =>
        List(await store.ListMonitorsAsync(null, cancellationToken));

    private static async Task<IResult> ListByBalanceAsync(string balanceId, ILedgerStore store,
        CancellationToken cancellationToken) =>
        List(await store.ListMonitorsAsync(balanceId, cancellationToken));

    /// <summary>
    /// Replaces the monitor's balance, condition, description, callback and trigger: the body is the whole
    /// monitor, so an omitted optional field is cleared. <c>precise_value</c> is recomputed (decision 10).
    /// </summary>
    private static async Task<IResult> UpdateAsync(string id, HttpContext context, ILedgerStore store,
        MonitorRegistry registry)
    {
        var (valid, error) = await ReadAsync(context, pluralLegacyKey: false);
        if (error is not null)
        {
            return new ErrorResult(error);
        }
        var existing = await store.GetMonitorAsync(id, context.RequestAborted);
        if (existing is null)
        {
            return NotFound(id);
        }
        // Balances are never deleted, so a balance that exists now still exists at the update.
        if (await store.GetBalanceAsync(valid!.BalanceId, context.RequestAborted) is null)
        {
            return InvalidBalance();
        }
        var updated = existing with
        {
            BalanceId = valid.BalanceId,
            Condition = valid.Condition,
            Description = valid.Description,
            CallBackUrl = valid.CallBackUrl,
            Trigger = valid.Trigger,
        };
        if (!await store.UpdateMonitorAsync(updated, context.RequestAborted))
        {
            return NotFound(id);
        }
        await registry.RefreshAfterChangeAsync();
        return Confirmation("BalanceMonitor updated successfully");
    }

    private static async Task<IResult> DeleteAsync(string id, ILedgerStore store, MonitorRegistry registry,
        CancellationToken cancellationToken)
    {
        if (!await store.DeleteMonitorAsync(id, cancellationToken))
        {
            return NotFound(id);
        }
        await registry.RefreshAfterChangeAsync();
        return Confirmation("BalanceMonitor deleted successfully");
    }

    /// <summary>The body, validated. Blnk names the legacy field <c>errors</c> for create validation only.</summary>
    private static async Task<(ValidMonitor? Value, ApiError? Error)> ReadAsync(HttpContext context,
        bool pluralLegacyKey)
    {
        var (request, error) = await RequestBody.ReadAsync(context, Wire.Monitors.MonitorRequest);
        if (error is not null)
        {
            return (null, error);
        }
        var (valid, invalid) = MonitorValidator.Validate(request!);
        return invalid is null
            ? (valid, null)
            : (null, new ApiError(ErrorCodes.ValidationError, invalid, PluralLegacyKey: pluralLegacyKey));
    }

    private static JsonHttpResult<List<MonitorResponse>> List(IReadOnlyList<BalanceMonitor> monitors) =>
        TypedResults.Json(monitors.Select(monitor => monitor.ToWire()).ToList(),
            Wire.Monitors.ListMonitorResponse);

    private static JsonHttpResult<ConfirmationMessage> Confirmation(string message) =>
        TypedResults.Json(new ConfirmationMessage { Message = message }, Wire.Monitors.ConfirmationMessage);

    private static ErrorResult InvalidBalance() =>
        new(new ApiError(ErrorCodes.BadRequest, "Invalid balance ID"));

    private static ErrorResult NotFound(string id) =>
        new(new ApiError(ErrorCodes.MonitorNotFound, $"Monitor with ID '{id}' not found"));
}
