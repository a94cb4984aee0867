namespace Blnk.Server.Errors;

/// <summary>The wire error codes we emit (Blnk's catalog, contract §2.3).</summary>
public static class ErrorCodes
{
    public const string MalformedRequest = "GEN_MALFORMED_REQUEST";
    public const string ValidationError = "GEN_VALIDATION_ERROR";
    public const string BadRequest = "GEN_BAD_REQUEST";
    public const string NotFound = "GEN_NOT_FOUND";
    public const string Conflict = "GEN_CONFLICT";
    public const string PayloadTooLarge = "GEN_PAYLOAD_TOO_LARGE";
    public const string Internal = "GEN_INTERNAL";
    public const string QueueBackpressure = "QUEUE_BACKPRESSURE";
    public const string AuthMissingApiKey = "AUTH_MISSING_API_KEY";
    public const string AuthInvalidApiKey = "AUTH_INVALID_API_KEY";
    public const string LedgerNotFound = "LGR_NOT_FOUND";
    public const string BalanceNotFound = "BAL_NOT_FOUND";
    public const string BalanceValidation = "BAL_VALIDATION_ERROR";
    public const string TransactionNotFound = "TXN_NOT_FOUND";
    public const string TransactionValidation = "TXN_VALIDATION_ERROR";
    public const string PrecisionNotInteger = "TXN_PRECISION_NOT_INTEGER";
    public const string InvalidAmount = "TXN_INVALID_AMOUNT";
    public const string InsufficientFunds = "TXN_INSUFFICIENT_FUNDS";
    public const string DuplicateReference = "TXN_DUPLICATE_REFERENCE";
    public const string NotInflight = "TXN_NOT_INFLIGHT";
    public const string AlreadyVoided = "TXN_ALREADY_VOIDED";
    public const string AlreadyCommitted = "TXN_ALREADY_COMMITTED";
    public const string CommitAmountExceeded = "TXN_COMMIT_AMOUNT_EXCEEDED";
    public const string InvalidStatusAction = "TXN_INVALID_STATUS_ACTION";
    public const string BulkEmpty = "TXN_BULK_EMPTY";
    public const string BulkLimitExceeded = "TXN_BULK_LIMIT_EXCEEDED";
    public const string InvalidDistribution = "TXN_INVALID_DISTRIBUTION";
    public const string IdentityValidation = "IDT_VALIDATION_ERROR";
    public const string IdentityNotFound = "IDT_NOT_FOUND";
    public const string MonitorNotFound = "BAL_MONITOR_NOT_FOUND";
    public const string HookInvalid = "HOOK_INVALID";
    public const string HookNotFound = "HOOK_NOT_FOUND";
}
