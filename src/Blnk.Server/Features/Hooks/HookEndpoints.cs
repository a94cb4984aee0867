using System.Text.Json.Nodes;
using Blnk.Core.Hooks;
using Blnk.Server.Errors;
using Blnk.Server.Http;
using Blnk.Server.Json;
using Blnk.Storage;

namespace Blnk.Server.Features.Hooks;

/// <summary><c>/hooks</c>: register, update, get, list (by type), delete transaction hooks (contract §4.9).</summary>
/// <remarks>
/// Master key only (decision 8): in secure mode <see cref="BlnkMiddleware.UseMasterKey"/> already requires it on
/// every route; in insecure mode hooks work as for the master key. Errors keep Blnk's legacy hook shape
/// (<c>code</c>, <c>message</c>, <c>details</c> beside <c>error_detail</c>), but a refused hook is a
/// <c>400 HOOK_INVALID</c> with the reason, where Blnk answers <c>500 HOOK_OPERATION_FAILED</c>. Every change
/// is followed by <see cref="ReloadingRegistry.RefreshAfterChangeAsync"/>, so the writer uses the new set at once.
/// </remarks>
public static class HookEndpoints
{
    private const string LegacyInvalidInput = "INVALID_INPUT";
    private const string LegacyNotFound = "NOT_FOUND";

    public static void MapHookEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapPost("/hooks", CreateAsync).WithName("Hooks_Create");
        routes.MapPut("/hooks/{id}", UpdateAsync).WithName("Hooks_Update");
        routes.MapGet("/hooks/{id}", GetAsync).WithName("Hooks_Get");
        routes.MapGet("/hooks", ListAsync).WithName("Hooks_List");
        routes.MapDelete("/hooks/{id}", DeleteAsync).WithName("Hooks_Delete");
    }

    private static async Task<IResult> CreateAsync(HttpContext context, ILedgerStore store, IdGenerator ids,
        TimeProvider clock, HookRegistry registry)
    {
        var (valid, error) = await ReadAsync(context);
        if (error is not null)
        {
            return error;
        }
        var hook = valid!.ToHook(ids.New(IdGenerator.HookPrefix), Clock.Now(clock));
        await store.InsertHookAsync(hook, context.RequestAborted);
        await registry.RefreshAfterChangeAsync();
        return TypedResults.Json(ToWire(hook), Wire.Hooks.HookResponse, statusCode: 201);
    }

    /// <summary>Replaces name, url, type, active, timeout, retry count; keeps id, created_at, the last run.</summary>
    private static async Task<IResult> UpdateAsync(string id, HttpContext context, ILedgerStore store,
        HookRegistry registry)
    {
        var (valid, error) = await ReadAsync(context);
        if (error is not null)
        {
            return error;
        }
        var existing = await store.GetHookAsync(id, context.RequestAborted);
        if (existing is null)
        {
            return NotFound();
        }
        var updated = valid!.ApplyTo(existing);
        if (!await store.UpdateHookAsync(updated, context.RequestAborted))
        {
            return NotFound();
        }
        await registry.RefreshAfterChangeAsync();
        return TypedResults.Json(ToWire(updated), Wire.Hooks.HookResponse);
    }

    private static async Task<IResult> GetAsync(string id, ILedgerStore store, CancellationToken cancellationToken)
    {
        var hook = await store.GetHookAsync(id, cancellationToken);
        return hook is null ? NotFound() : TypedResults.Json(ToWire(hook), Wire.Hooks.HookResponse);
    }

    /// <summary>Every hook, or those of <c>?type=</c>; an unknown type is refused, not matched by nothing.</summary>
    private static async Task<IResult> ListAsync(HttpRequest request, ILedgerStore store,
        CancellationToken cancellationToken)
    {
        string? type = request.Query["type"];
        if (string.IsNullOrEmpty(type))
        {
            type = null;
        }
        else if (!HookValidator.IsType(type))
        {
            return Invalid($"invalid hook type: {type}");
        }
        var hooks = await store.ListHooksAsync(type, cancellationToken);
        return TypedResults.Json(hooks.Select(ToWire).ToList(), Wire.Hooks.ListHookResponse);
    }

    private static async Task<IResult> DeleteAsync(string id, ILedgerStore store, HookRegistry registry,
        CancellationToken cancellationToken)
    {
        if (!await store.DeleteHookAsync(id, cancellationToken))
        {
            return NotFound();
        }
        await registry.RefreshAfterChangeAsync();
        return TypedResults.Json(new ConfirmationMessage { Message = "hook deleted successfully" },
            Wire.Hooks.ConfirmationMessage);
    }

    private static async Task<(ValidHook? Value, ErrorResult? Error)> ReadAsync(HttpContext context)
    {
        var (request, error) = await RequestBody.ReadAsync(context, Wire.Hooks.HookRequest);
        if (error is not null)
        {
            return (null, error.Code == ErrorCodes.PayloadTooLarge
                ? new ErrorResult(error)
                : new ErrorResult(new ApiError(ErrorCodes.HookInvalid, "invalid hook data",
                    new JsonObject { ["reason"] = error.Message }) { HookLegacyCode = LegacyInvalidInput }));
        }
        var (valid, invalid) = HookValidator.Validate(request!);
        return invalid is null ? (valid, null) : (null, Invalid(invalid));
    }

    private static HookResponse ToWire(Hook hook) => new()
    {
        Id = hook.HookId,
        Name = hook.Name,
        Url = hook.Url,
        Type = hook.Type,
        Active = hook.Active,
        Timeout = hook.TimeoutSeconds,
        RetryCount = hook.RetryCount,
        CreatedAt = hook.CreatedAt,
        LastRun = hook.LastRun,
        LastSuccess = hook.LastSuccess,
    };

    private static ErrorResult Invalid(string message) =>
        new(new ApiError(ErrorCodes.HookInvalid, message) { HookLegacyCode = LegacyInvalidInput });

    private static ErrorResult NotFound() =>
        new(new ApiError(ErrorCodes.HookNotFound, "hook not found") { HookLegacyCode = LegacyNotFound });
}
