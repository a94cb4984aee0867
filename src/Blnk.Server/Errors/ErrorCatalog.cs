using System.Collections.Frozen;

namespace Blnk.Server.Errors;

/// <summary>Blnk's code → HTTP status table (contract §2.3); an unknown code is a 500.</summary>
public static class ErrorCatalog
{
    private static readonly FrozenDictionary<string, int> StatusByCode = new Dictionary<string, int>
    {
        [ErrorCodes.MalformedRequest] = 400, [ErrorCodes.ValidationError] = 400, ["GEN_MISSING_PARAMETER"] = 400,
        [ErrorCodes.BadRequest] = 400, ["APIKEY_OWNER_REQUIRED"] = 400, ["APIKEY_INVALID"] = 400,
        [ErrorCodes.InsufficientFunds] = 400, [ErrorCodes.InvalidAmount] = 400, [ErrorCodes.PrecisionNotInteger] = 400,
        ["TXN_INVALID_DISTRIBUTION"] = 400, ["TXN_NOT_INFLIGHT"] = 400, ["TXN_COMMIT_AMOUNT_EXCEEDED"] = 400,
        ["TXN_INVALID_STATUS_ACTION"] = 400, ["TXN_BULK_EMPTY"] = 400, ["TXN_BULK_LIMIT_EXCEEDED"] = 400,
        [ErrorCodes.TransactionValidation] = 400, ["BAL_INVALID_TIMESTAMP"] = 400, [ErrorCodes.BalanceValidation] = 400,
        ["IDT_VALIDATION_ERROR"] = 400, ["IDT_FIELD_NOT_TOKENIZABLE"] = 400, ["IDT_FIELD_NOT_TOKENIZED"] = 400,
        ["IDT_FIELD_NOT_FOUND"] = 400, ["RECON_UPLOAD_FAILED"] = 400, ["RECON_UPLOAD_URL_INVALID"] = 400,
        ["RECON_UPLOAD_HOST_NOT_ALLOWED"] = 400, ["RECON_RULE_INVALID"] = 400, ["RECON_MATCHING_RULES_REQUIRED"] = 400,
        ["RECON_EXTERNAL_TXNS_REQUIRED"] = 400, ["META_UNSUPPORTED_ENTITY"] = 400, ["META_INVALID_ENTITY_ID"] = 400,
        ["HOOK_INVALID"] = 400, ["SRCH_QUERY_INVALID"] = 400,
        [ErrorCodes.AuthMissingApiKey] = 401, [ErrorCodes.AuthInvalidApiKey] = 401, ["AUTH_EXPIRED_API_KEY"] = 401,
        ["AUTH_MISSING_PRINCIPAL"] = 401, ["AUTH_METRICS_TOKEN_REQUIRED"] = 401, ["AUTH_INVALID_BEARER_TOKEN"] = 401,
        ["AUTH_INSUFFICIENT_PERMISSIONS"] = 403, ["AUTH_UNKNOWN_RESOURCE"] = 403, ["AUTH_MASTER_KEY_REQUIRED"] = 403,
        ["AUTH_CROSS_OWNER_ACCESS"] = 403, ["AUTH_SCOPE_ESCALATION"] = 403, ["AUTH_METRICS_DISABLED"] = 403,
        ["IDT_TOKENIZATION_DISABLED"] = 403,
        [ErrorCodes.NotFound] = 404, ["APIKEY_NOT_FOUND"] = 404, [ErrorCodes.TransactionNotFound] = 404,
        [ErrorCodes.BalanceNotFound] = 404, ["BAL_HISTORY_NOT_FOUND"] = 404, ["BAL_MONITOR_NOT_FOUND"] = 404,
        [ErrorCodes.LedgerNotFound] = 404, ["ACC_NOT_FOUND"] = 404, ["IDT_NOT_FOUND"] = 404, ["RECON_NOT_FOUND"] = 404,
        ["RECON_RULE_NOT_FOUND"] = 404, ["META_ENTITY_NOT_FOUND"] = 404, ["HOOK_NOT_FOUND"] = 404,
        ["SRCH_REINDEX_NOT_STARTED"] = 404,
        [ErrorCodes.Conflict] = 409, [ErrorCodes.DuplicateReference] = 409, ["TXN_ALREADY_COMMITTED"] = 409,
        ["TXN_ALREADY_VOIDED"] = 409, ["LGR_DUPLICATE"] = 409, ["ACC_DUPLICATE"] = 409,
        ["IDT_FIELD_ALREADY_TOKENIZED"] = 409, ["SRCH_REINDEX_IN_PROGRESS"] = 409,
        [ErrorCodes.PayloadTooLarge] = 413,
        ["GEN_RESOURCE_LOCKED"] = 423,
        ["GEN_RATE_LIMITED"] = 429,
        [ErrorCodes.QueueBackpressure] = 503,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static int StatusOf(string code) => StatusByCode.GetValueOrDefault(code, 500);
}
