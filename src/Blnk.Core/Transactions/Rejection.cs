namespace Blnk.Core.Transactions;

/// <summary>
/// Why a transaction was not applied. Declared in the order the checks run, so the first failing
/// check names the outcome. Expected failures are values of this enum, never exceptions.
/// </summary>
public enum RejectionCode
{
    BalanceNotFound,
    CurrencyMismatch,
    DuplicateReference,
    InvalidAmount,
    InsufficientFunds,
    ExceedsOverdraftLimit,
    NotInflight,
    AlreadyVoided,
    AlreadyCommitted,
    CommitAmountExceeded,

    /// <summary>Another item of an atomic group was refused, so this one was not applied either.</summary>
    AtomicGroupRefused,
}

/// <summary>A rejected transaction: the code decides the HTTP status, the message is shown to the caller.</summary>
public sealed record Rejection(RejectionCode Code, string Message)
{
    public static Rejection InsufficientFunds() =>
        new(RejectionCode.InsufficientFunds, "insufficient funds in source balance");

    public static Rejection ExceedsOverdraftLimit() =>
        new(RejectionCode.ExceedsOverdraftLimit, "transaction exceeds overdraft limit");

    public static Rejection InvalidAmount() =>
        new(RejectionCode.InvalidAmount, "transaction amount must be positive");

    public static Rejection DuplicateReference(string reference) =>
        new(RejectionCode.DuplicateReference,
            $"transaction validation failed: reference {reference} has already been used");

    public static Rejection NotInflight() =>
        new(RejectionCode.NotInflight, "transaction is not in inflight status");

    public static Rejection AlreadyVoided() =>
        new(RejectionCode.AlreadyVoided, "transaction has already been voided");

    public static Rejection AlreadyCommitted(string action) =>
        new(RejectionCode.AlreadyCommitted, $"cannot {action}. Transaction already committed");

    public static Rejection CommitAmountExceeded(string message) => new(RejectionCode.CommitAmountExceeded, message);

    public static Rejection AtomicGroupRefused(Rejection cause) =>
        new(RejectionCode.AtomicGroupRefused, $"not applied: another transaction of its atomic group was refused ({cause.Message})");

    public static Rejection BalanceNotFound(string balanceId) =>
        new(RejectionCode.BalanceNotFound, $"Balance with ID '{balanceId}' not found");

    public static Rejection CurrencyMismatch(string balanceId, string balanceCurrency, string currency) =>
        new(RejectionCode.CurrencyMismatch,
            $"currency mismatch: balance {balanceId} holds {balanceCurrency}, the transaction is in {currency}");
}
